/* Plan: reduce every operand to elements x classes, with element dims collapsed. */
#include "internal.h"

#include <string.h>

/* Top-k operands: element shape + (K). */
static int topk_shaped(const softce__plan *p, int slot) {
    return p->topk && (slot == SOFTCE__TARGET || slot == SOFTCE__TOPK_PROB ||
                       slot == SOFTCE__GRAD_TARGET);
}

static int logits_shaped(const softce__plan *p, int slot) {
    return !topk_shaped(p, slot) &&
           (slot == SOFTCE__LOGITS || slot == SOFTCE__GRAD_LOGITS || slot == SOFTCE__GRAD_TARGET ||
            (slot == SOFTCE__TARGET && p->soft));
}

/* Element strides (uncollapsed, over the logits' element dims) and class stride of a slot. */
static void slot_strides(const softce__plan *p, int slot, int cax, int en, int64_t *es,
                         int64_t *cs) {
    const softce_tensor *t = p->t[slot];
    *cs = 0;
    memset(es, 0, sizeof(int64_t) * SOFTCE__MAX_EDIMS);
    if (!t)
        return;
    if (slot == SOFTCE__WEIGHT || slot == SOFTCE__PRIOR) {
        *cs = t->strides[0];
    } else if (topk_shaped(p, slot)) { /* element dims, then K (its stride as the "class" one) */
        for (int k = 0; k < en; k++)
            es[k] = t->strides[k];
        *cs = t->strides[en];
    } else if (logits_shaped(p, slot)) {
        int n = 0;
        for (int k = 0; k < t->ndim; k++)
            if (k != cax)
                es[n++] = t->strides[k];
        *cs = t->strides[cax];
    } else if (t->ndim == en) { /* element-shaped; 0-d reduced outputs keep zeros */
        for (int k = 0; k < en; k++)
            es[k] = t->strides[k];
    }
}

void softce__plan_layout(softce__plan *p) {
    const softce_tensor *lg = p->t[SOFTCE__LOGITS];
    int cax = lg->ndim == 1 ? 0 : 1, en = 0;
    int64_t shape[SOFTCE__MAX_EDIMS];
    int64_t es[SOFTCE__NUM_SLOTS][SOFTCE__MAX_EDIMS];
    for (int k = 0; k < lg->ndim; k++)
        if (k != cax)
            shape[en++] = lg->shape[k];
    for (int s = 0; s < SOFTCE__NUM_SLOTS; s++)
        slot_strides(p, s, cax, en, es[s], &p->cs[s]);

    /* Drop size-1 dims, then merge a dim into its outer neighbour when every operand steps
       through both as one (outer stride == inner stride * inner size). */
    p->ndim = 0;
    for (int k = 0; k < en; k++) {
        if (shape[k] == 1)
            continue;
        int d = p->ndim, merge = d > 0;
        for (int s = 0; merge && s < SOFTCE__NUM_SLOTS; s++)
            merge = p->es[s][d - 1] == es[s][k] * shape[k];
        if (merge) {
            p->shape[d - 1] *= shape[k];
            for (int s = 0; s < SOFTCE__NUM_SLOTS; s++)
                p->es[s][d - 1] = es[s][k];
        } else {
            p->shape[d] = shape[k];
            for (int s = 0; s < SOFTCE__NUM_SLOTS; s++)
                p->es[s][d] = es[s][k];
            p->ndim++;
        }
    }
    p->nmoving = 0;
    for (int s = 0; s < SOFTCE__NUM_SLOTS; s++) {
        int moves = 0;
        for (int d = 0; d < p->ndim; d++)
            moves |= p->es[s][d] != 0;
        if (moves)
            p->moving[p->nmoving++] = s;
    }
    p->grad_loss_scalar = p->reduction != SOFTCE_REDUCTION_NONE;
}
