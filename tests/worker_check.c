/* worker_check.c -- pybuf_run_parts and the SIMD dispatch of pybuf/_simd.c,
 * checked from C without Python, so that either thread backend can run it:
 * tests/test_worker.py builds it with the host compiler (POSIX threads),
 * .ci/portability with mingw-w64 and runs it under wine (Win32 threads).
 *
 *   cc -O2 -Ipybuf tests/worker_check.c pybuf/_simd.c -pthread
 *
 * Prints one line per check and "ok <path>" at the end; exit status 1 at
 * the first failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "_simd.h"

#if defined(_WIN32)
#include <windows.h>
typedef DWORD thread_id;
static thread_id this_thread(void) { return GetCurrentThreadId(); }
static int same_thread(thread_id a, thread_id b) { return a == b; }
#else
#include <pthread.h>
typedef pthread_t thread_id;
static thread_id this_thread(void) { return pthread_self(); }
static int same_thread(thread_id a, thread_id b) { return pthread_equal(a, b); }
#endif

#define NPARTS 64
#define REPS 300
#define ITEMS 4096

static thread_id main_thread;
static double data[NPARTS * ITEMS];

typedef struct {
    int index;
    int runs;          /* times this part ran: must end as 1 per call */
    int on_worker;     /* it ran on a thread other than the caller */
    double sum;        /* its slice's sum, by the SIMD path in use */
} part;

static void task(void *arg) {
    part *p = (part *)arg;
    p->runs++;
    p->on_worker = !same_thread(this_thread(), main_thread);
    p->sum = pybuf_simd->sum_f64(data + (size_t)p->index * ITEMS, ITEMS, 0);
}

static int failed(const char *what) {
    printf("FAIL %s\n", what);
    return 1;
}

/* Run the parts `reps` times; 0 when every part ran once per call with the
   exact sum; counts the parts the worker ran. */
static int run(int reps, int large, size_t nbytes, long *by_worker) {
    part parts[NPARTS];
    int r, i;
    for (r = 0; r < reps; r++) {
        memset(parts, 0, sizeof(parts));
        for (i = 0; i < NPARTS; i++) parts[i].index = i;
        pybuf_run_parts(task, parts, sizeof(part), NPARTS, nbytes, large);
        for (i = 0; i < NPARTS; i++) {
            /* the items of part i are the integers i*ITEMS .. i*ITEMS+ITEMS-1:
               every partial sum is exact in a double */
            double want = (double)ITEMS * i * ITEMS + (double)ITEMS * (ITEMS - 1) / 2;
            if (parts[i].runs != 1 || parts[i].sum != want) return 1;
            *by_worker += parts[i].on_worker;
        }
    }
    return 0;
}

int main(void) {
    long by_worker = 0;
    int k, i;
    main_thread = this_thread();
    for (i = 0; i < NPARTS * ITEMS; i++) data[i] = (double)i;

    /* every path this CPU runs gives the exact sums; the widest last */
    if (pybuf_simd_select(NULL) != 0) return failed("select the widest path");
    printf("widest path: %s\n", pybuf_simd->name);
    for (k = 0; k < PYBUF_SIMD_NPATHS; k++) {
        const char *name = pybuf_simd_path_name(k);
        if (name == NULL || !pybuf_simd_path_supported(k)) continue;
        if (pybuf_simd_select(name) != 0) return failed("select a supported path");
        by_worker = 0;
        pybuf_worker_enable(2);         /* the worker takes parts always */
        if (run(20, 1, 0, &by_worker)) return failed("parts with the worker");
        printf("path %s: sums exact\n", name);
    }
    pybuf_simd_select(NULL);

    /* mode 2, large jobs: the worker starts and takes some parts */
    pybuf_worker_enable(2);
    by_worker = 0;
    if (run(REPS, 1, (size_t)1 << 30, &by_worker)) return failed("mode 2");
    if (!pybuf_worker_running()) return failed("the worker runs after mode-2 jobs");
    if (by_worker == 0) return failed("the worker took no part");
    printf("mode 2: %ld of %d parts on the worker\n", by_worker, REPS * NPARTS);

    /* stopped, then started again by the next job */
    pybuf_worker_stop();
    if (pybuf_worker_running()) return failed("stop");
    by_worker = 0;
    if (run(REPS, 1, (size_t)1 << 30, &by_worker)) return failed("restart");
    if (!pybuf_worker_running() || by_worker == 0) return failed("restarted worker");
    printf("restart: %ld parts on the worker\n", by_worker);

    /* mode 1, small jobs: the free-core check (system, process and worker
       CPU times) decides; whatever it says, every part runs once */
    pybuf_worker_enable(1);
    by_worker = 0;
    if (run(REPS, 0, (size_t)4 << 20, &by_worker)) return failed("mode 1");
    printf("mode 1: %ld parts on the worker\n", by_worker);

    /* off: the worker is stopped and the caller runs everything */
    pybuf_worker_enable(0);
    if (pybuf_worker_running()) return failed("mode 0 stops the worker");
    by_worker = 0;
    if (run(10, 1, (size_t)1 << 30, &by_worker) || by_worker != 0)
        return failed("mode 0");
    printf("mode 0: all parts on the caller\n");

    printf("ok %s\n", pybuf_simd->name);
    return 0;
}
