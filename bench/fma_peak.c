#include <immintrin.h>
#include <stdio.h>
#include <time.h>
#define F(x) x = _mm256_fmadd_ps(x, b, c)
int main(void) {
    __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
    __m256 a0=_mm256_set1_ps(0),a1=_mm256_set1_ps(1),a2=_mm256_set1_ps(2),a3=_mm256_set1_ps(3),a4=_mm256_set1_ps(4),a5=_mm256_set1_ps(5),a6=_mm256_set1_ps(6),a7=_mm256_set1_ps(7),a8=_mm256_set1_ps(8),a9=_mm256_set1_ps(9);
    long n = 300000000;
    struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long k = 0; k < n; k++) { F(a0);F(a1);F(a2);F(a3);F(a4);F(a5);F(a6);F(a7);F(a8);F(a9); }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    __m256 t = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0,a1),_mm256_add_ps(a2,a3)),_mm256_add_ps(_mm256_add_ps(a4,a5),_mm256_add_ps(_mm256_add_ps(a6,a7),_mm256_add_ps(a8,a9))));
    printf("%.1f GFLOP/s (f32 FMA, one core) %f\n", n * 10.0 * 8 * 2 / s / 1e9, t[0]);
}
