/* The C "library" behind samples.pyx (see samplelib.h). */
#include <stdlib.h>

#include "samplelib.h"

struct samples {
    ptrdiff_t n;
    double *data;
};

static long live = 0;

samples *samples_new(ptrdiff_t n, double step) {
    samples *s = malloc(sizeof(samples));
    if (s == NULL)
        return NULL;
    s->n = n;
    s->data = malloc((n > 0 ? (size_t)n : 1) * sizeof(double));
    if (s->data == NULL) {
        free(s);
        return NULL;
    }
    for (ptrdiff_t i = 0; i < n; i++)
        s->data[i] = (double)i * step;
    live++;
    return s;
}

double *samples_data(samples *s) { return s->data; }

void samples_free(samples *s) {
    free(s->data);
    free(s);
    live--;
}

long samples_live(void) { return live; }
