// AMX-BF16 matrix product for the managed LSTM's managed_bf16 serving path (see Lstm/AmxBf16.cs).
//
// C[m x n] = A[m x k] * B[k x n]: A is fp32 (row stride lda floats), rounded to bf16 (nearest even) here; B is packed
// bf16 by sf_amx_pack (below); C is fp32 (row stride ldc floats) and receives ceil(m / 16) * 16 rows (rows past m come
// from zero rows of A). TDPBF16PS adds the products of each k pair to C with fp32 fused multiply-adds; a product of
// two normal bf16 values is exact in fp32. Denormal inputs read as zero and denormal results are flushed to zero
// (the instruction ignores MXCSR), as does the conversion of A.
//
// Built by the Scoring project when gcc is present (StreamFraud.Scoring.csproj, target BuildAmxLibrary); loaded only where the CPU has AMX-BF16 and the
// kernel grants the process the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM), else the path reports why not.
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#define AMX_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16,amx-tile,amx-bf16")))

// The ABI of this file's functions, checked by the binding (a library of another version is not used).
int sf_amx_version(void) { return 1; }

// Returns 0 when AMX-BF16 can run in this process; 1: the CPU (or the OS's saved state) lacks AMX-BF16, AVX512-BF16
// or AVX-512; otherwise the errno (> 1) with which the kernel refused the tile data permission (EINVAL: Linux before
// 5.16 or AMX disabled; ENOSPC: a thread's signal stack too small for the tile state).
int sf_amx_init(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d) || !((c >> 27) & 1)) return 1; // OSXSAVE: xgetbv is allowed
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6) return 1; // the OS saves SSE, AVX and the three AVX-512 states
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 1;
    int amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 1;
    int avx512_bf16 = (a >> 5) & 1;
    if (!amx_bf16 || !amx_tile || !avx512f || !avx512bw || !avx512_bf16) return 1;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return errno > 1 ? errno : 2;
    return 0;
}

typedef struct
{
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) tile_config;

// bf16 of x, rounded to nearest even (x finite), as the managed packer does.
static inline uint16_t bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// Packs B (fp32, k rows x n columns, row stride ldb) into tiles of 32 k x 16 columns: for each k block of 32 (k padded
// with zeros to kp = ceil(k / 32) * 32) and column block of 16, 16 rows of 16 (b[2r][col], b[2r+1][col]) pairs.
// dst holds kp * n values.
void sf_amx_pack(const float* b, int ldb, int k, int n, uint16_t* dst)
{
    int kp = (k + 31) / 32 * 32;
    for (int kb = 0; kb < kp / 32; kb++)
        for (int nb = 0; nb < n / 16; nb++)
        {
            uint16_t* t = dst + ((size_t)kb * (n / 16) + nb) * 512;
            for (int r = 0; r < 16; r++)
                for (int col = 0; col < 16; col++)
                    for (int h = 0; h < 2; h++)
                    {
                        int kk = kb * 32 + 2 * r + h;
                        t[r * 32 + col * 2 + h] = kk < k ? bf16(b[(size_t)kk * ldb + nb * 16 + col]) : 0;
                    }
        }
}

// A rows [0, mp) as bf16, k padded with zeros to kp, rows past m zero: scratch holds mp * kp values.
AMX_TARGET static void convert_a(const float* a, int lda, int m, int mp, int k, int kp, uint16_t* scratch)
{
    for (int r = 0; r < mp; r++)
    {
        uint16_t* row = scratch + (size_t)r * kp;
        int j = 0;
        if (r < m)
        {
            const float* src = a + (size_t)r * lda;
            for (; j + 16 <= k; j += 16)
                _mm256_storeu_si256((__m256i*)(row + j), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + j)));
            if (j < k)
            {
                __mmask16 mask = (__mmask16)((1u << (k - j)) - 1);
                __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, src + j));
                _mm256_storeu_si256((__m256i*)(row + j), v); // zeros past k
                j += 16;
            }
        }
        for (; j < kp; j += 16)
            _mm256_storeu_si256((__m256i*)(row + j), _mm256_setzero_si256());
    }
}

// See the file comment. n a multiple of 16; scratch holds ceil(m/16)*16 * ceil(k/32)*32 values; C must have room for
// ceil(m/16)*16 rows. Tiles: 0-3 C (2 x 2 blocks of 16 x 16), 4-5 A (16 rows x 32 k), 6-7 B (32 k x 16 columns).
AMX_TARGET void sf_amx_gemm(const float* a, int lda, int m, int k, const uint16_t* bp, int n, float* c, int ldc, uint16_t* scratch)
{
    int mp = (m + 15) / 16 * 16, kp = (k + 31) / 32 * 32, kb_count = kp / 32, nb_count = n / 16;
    convert_a(a, lda, m, mp, k, kp, scratch);
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++)
    {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }

    _tile_loadconfig(&cfg);
    size_t a_stride = (size_t)kp * 2, c_stride = (size_t)ldc * 4;
    int mi = 0;
    for (; mi + 32 <= mp; mi += 32)
        for (int nb = 0; nb + 2 <= nb_count; nb += 2)
        {
            _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
            for (int kb = 0; kb < kb_count; kb++)
            {
                _tile_loadd(4, scratch + (size_t)mi * kp + kb * 32, a_stride);
                _tile_loadd(5, scratch + (size_t)(mi + 16) * kp + kb * 32, a_stride);
                _tile_loadd(6, bp + ((size_t)kb * nb_count + nb) * 512, 64);
                _tile_loadd(7, bp + ((size_t)kb * nb_count + nb + 1) * 512, 64);
                _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
            }
            float* out = c + (size_t)mi * ldc + nb * 16;
            _tile_stored(0, out, c_stride); _tile_stored(1, out + 16, c_stride);
            _tile_stored(2, out + 16 * (size_t)ldc, c_stride); _tile_stored(3, out + 16 * (size_t)ldc + 16, c_stride);
        }

    if (mi < mp) // a last block of 16 rows
        for (int nb = 0; nb + 2 <= nb_count; nb += 2)
        {
            _tile_zero(0); _tile_zero(1);
            for (int kb = 0; kb < kb_count; kb++)
            {
                _tile_loadd(4, scratch + (size_t)mi * kp + kb * 32, a_stride);
                _tile_loadd(6, bp + ((size_t)kb * nb_count + nb) * 512, 64);
                _tile_loadd(7, bp + ((size_t)kb * nb_count + nb + 1) * 512, 64);
                _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
            }
            float* out = c + (size_t)mi * ldc + nb * 16;
            _tile_stored(0, out, c_stride); _tile_stored(1, out + 16, c_stride);
        }

    if (nb_count % 2) // a last column block of 16
        for (int mb = 0; mb < mp; mb += 16)
        {
            int nb = nb_count - 1;
            _tile_zero(0);
            for (int kb = 0; kb < kb_count; kb++)
            {
                _tile_loadd(4, scratch + (size_t)mb * kp + kb * 32, a_stride);
                _tile_loadd(6, bp + ((size_t)kb * nb_count + nb) * 512, 64);
                _tile_dpbf16ps(0, 4, 6);
            }
            _tile_stored(0, c + (size_t)mb * ldc + nb * 16, c_stride);
        }

    _tile_release();
}
