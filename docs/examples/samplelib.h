/* A stand-in for a C library that hands out memory it owns: a block of
   samples comes from samples_new() and must go back through samples_free()
   (the library's own function, not free()). */
#ifndef SAMPLELIB_H
#define SAMPLELIB_H

#include <stddef.h>

typedef struct samples samples;

samples *samples_new(ptrdiff_t n, double step);   /* NULL when out of memory */
double *samples_data(samples *s);                  /* 0, step, 2 * step, ... */
void samples_free(samples *s);
long samples_live(void);                           /* blocks not yet freed */

#endif
