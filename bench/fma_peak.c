// Single-core peak of f32 fused multiply-adds, 10 independent chains.
//   gcc -O2 -mavx2 -mfma bench/fma_peak.c -o /tmp/peak && /tmp/peak              (AVX2)
//   gcc -O2 -mavx512f -mfma bench/fma_peak.c -o /tmp/peak512 && /tmp/peak512     (AVX-512)
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
#ifdef __AVX512F__
typedef __m512 V;
#define LANES 16
#define SET(x) _mm512_set1_ps(x)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define ADD(a, b) _mm512_add_ps(a, b)
#define NAME "AVX-512"
#else
typedef __m256 V;
#define LANES 8
#define SET(x) _mm256_set1_ps(x)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define ADD(a, b) _mm256_add_ps(a, b)
#define NAME "AVX2"
#endif
#define F(x) x = FMA(x, b, c)
int main(void) {
    V b = SET(1.0000001f), c = SET(1e-7f);
    V a0 = SET(0), a1 = SET(1), a2 = SET(2), a3 = SET(3), a4 = SET(4), a5 = SET(5), a6 = SET(6),
      a7 = SET(7), a8 = SET(8), a9 = SET(9);
    long n = 300000000;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long k = 0; k < n; k++) { F(a0); F(a1); F(a2); F(a3); F(a4); F(a5); F(a6); F(a7); F(a8); F(a9); }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    V t = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(ADD(a6, a7), ADD(a8, a9))));
    float out[LANES];
#ifdef __AVX512F__
    _mm512_storeu_ps(out, t);
#else
    _mm256_storeu_ps(out, t);
#endif
    printf("%.1f GFLOP/s (f32 FMA, %s, one core) %f\n", n * 10.0 * LANES * 2 / s / 1e9, NAME, out[0]);
}
