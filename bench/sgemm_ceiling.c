/* sgemm_ceiling.c: OpenBLAS cblas_sgemm GFLOP/s on this machine for given (m, n, k) shapes
 * and thread count: the ceiling for kiln's matrix products. Median of repeated runs.
 * Build: cc -O2 sgemm_ceiling.c -o sgemm_ceiling -lopenblas
 * Usage: sgemm_ceiling THREADS REPEATS MxNxK[:TA TB] ...   (TA/TB: N or T, row-major)
 * Prints one line per shape: m n k ta tb median_seconds gflops */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int num_threads);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s THREADS REPEATS MxNxK[:TA TB] ...\n", argv[0]);
    return 2;
  }
  int threads = atoi(argv[1]), repeats = atoi(argv[2]);
  if (threads < 1 || repeats < 1) {
    fprintf(stderr, "sgemm_ceiling: THREADS and REPEATS must be positive\n");
    return 2;
  }
  openblas_set_num_threads(threads);
  for (int a = 3; a < argc; ++a) {
    long m = 0, n = 0, k = 0;
    char ta = 'N', tb = 'N';
    if (sscanf(argv[a], "%ldx%ldx%ld:%c%c", &m, &n, &k, &ta, &tb) < 3 || m < 1 || n < 1 || k < 1 ||
        (ta != 'N' && ta != 'T') || (tb != 'N' && tb != 'T')) {
      fprintf(stderr, "sgemm_ceiling: bad shape '%s' (expected MxNxK or MxNxK:NT)\n", argv[a]);
      return 2;
    }
    float* A = malloc(sizeof(float) * (size_t)(m * k));
    float* B = malloc(sizeof(float) * (size_t)(k * n));
    float* C = malloc(sizeof(float) * (size_t)(m * n));
    double* t = malloc(sizeof(double) * (size_t)repeats);
    if (!A || !B || !C || !t) {
      fprintf(stderr, "sgemm_ceiling: out of memory\n");
      return 1;
    }
    for (long i = 0; i < m * k; ++i) A[i] = (float)((i * 7 % 13) - 6) / 13.0f;
    for (long i = 0; i < k * n; ++i) B[i] = (float)((i * 5 % 11) - 5) / 11.0f;
    memset(C, 0, sizeof(float) * (size_t)(m * n));
    enum CBLAS_TRANSPOSE TA = ta == 'T' ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE TB = tb == 'T' ? CblasTrans : CblasNoTrans;
    long lda = ta == 'T' ? m : k, ldb = tb == 'T' ? k : n;
    /* Enough calls per timed run for ~20 ms, after a warm-up call. */
    cblas_sgemm(CblasRowMajor, TA, TB, m, n, k, 1.0f, A, lda, B, ldb, 0.0f, C, n);
    double t0 = now();
    cblas_sgemm(CblasRowMajor, TA, TB, m, n, k, 1.0f, A, lda, B, ldb, 0.0f, C, n);
    double one = now() - t0;
    long calls = one > 0 ? (long)(0.02 / one) + 1 : 1000;
    for (int r = 0; r < repeats; ++r) {
      t0 = now();
      for (long c = 0; c < calls; ++c)
        cblas_sgemm(CblasRowMajor, TA, TB, m, n, k, 1.0f, A, lda, B, ldb, 0.0f, C, n);
      t[r] = (now() - t0) / (double)calls;
    }
    qsort(t, (size_t)repeats, sizeof(double), cmp_double);
    double med = repeats % 2 ? t[repeats / 2] : 0.5 * (t[repeats / 2 - 1] + t[repeats / 2]);
    printf("%ld %ld %ld %c %c %.9g %.3f\n", m, n, k, ta, tb, med, 2.0 * (double)m * (double)n * (double)k / med / 1e9);
    free(A);
    free(B);
    free(C);
    free(t);
  }
  return 0;
}
