/* kernels/q4_ref.c - int4 weights: packing into panels and the reference
 * GEMM, plain loops over the layout's index (kernels.h). */
#include "kernels/q4_ref.h"

#include <string.h>

void llx_pack_q4_panels(uint8_t *dst, const uint8_t *src, int R, int K, int P)
{
    const int panels = (R + P - 1) / P;
    for (int pn = 0; pn < panels; pn++)
        for (int o = 0; o < K / 8; o++) {
            uint8_t *d = dst + (size_t)pn * P * (K / 2) + (size_t)o * 4 * P;
            for (int i = 0; i < P; i++)
                for (int j = 0; j < 4; j++) {
                    const int r = pn * P + i;
                    const int lo = r < R ? llx_q4_stored(src, r, 8 * o + j, K) : 0;
                    const int hi = r < R ? llx_q4_stored(src, r, 8 * o + 4 + j, K) : 0;
                    d[4 * i + j] = (uint8_t)((lo + 8) | (hi + 8) << 4);
                }
        }
}

void llx_pack_q4_scales(float *dst, const float *src, int R, int ng, int P)
{
    const size_t n = llx_q4_scales(R, ng, P);
    for (size_t i = 0; i < n; i++) dst[i] = 0.0f;
    for (int r = 0; r < R; r++)
        for (int g = 0; g < ng; g++) dst[ng > 1 ? llx_q4_scale_at(r, g, ng, P) : (size_t)r] = src[(size_t)r * ng + g];
}

void llx_q4_dequant_ref(float *y, const int32_t *acc, int ng, int P, const llx_epilogue *ep, int t, int n)
{
    const float s = ep->s_in[t];
    for (int r = 0; r < n; r++) {
        float v = 0.0f;
        for (int g = 0; g < ng; g++) {
            const float p = (float)acc[(size_t)r * ng + g] * (s * ep->ws[llx_q4_scale_at(r, g, ng, P)]);
            v = g ? v + p : p;
        }
        y[r] = v + (ep->bias ? ep->bias[r] : 0.0f);
    }
}

void llx_gemm_q4_ref(const llx_epilogue *ep, const int8_t *x, int ldx, const uint8_t *wp, int T, int R, int K, int G)
{
    enum { RC = 256 };
    const int ng = K / G, P = llx_kernels_ref.q4_rows;
    int32_t acc[RC * 64];
    float scratch[RC];
    const int rc = ng <= 64 ? RC : (RC * 64 / ng + P - 1) / P * P; /* whole panels: the scales' layout */
    for (int t = 0; t < T; t++) {
        const int8_t *xt = x + (size_t)t * ldx;
        for (int r0 = 0; r0 < R; r0 += rc) {
            const int n = R - r0 < rc ? R - r0 : rc;
            for (int r = 0; r < n; r++)
                for (int g = 0; g < ng; g++) {
                    int32_t s = 0;
                    for (int k = g * G; k < (g + 1) * G; k++) s += llx_q4_panel(wp, r0 + r, k, K, P) * (int32_t)xt[k];
                    acc[(size_t)r * ng + g] = s;
                }
            const llx_epilogue e = llx_epilogue_at(ep, 0, r0);
            float *y = llx_epilogue_y(&e, t, scratch);
            llx_q4_dequant_ref(y, acc, ng, P, &e, t, n);
            llx_epilogue_tail(&llx_kernels_ref, &e, t, y, n);
        }
    }
}
