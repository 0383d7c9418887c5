#include <softce/softce.h>
#include <stdio.h>

int main(void) {
    float logits[2][3] = {{2.0f, 1.0f, 0.1f}, {0.5f, 2.5f, 0.3f}}; /* N = 2, C = 3 */
    int64_t labels[2] = {0, 2}; /* integer target => hard (class indices) */
    float loss, grad[2][3];
    int64_t shape[2] = {2, 3};
    softce_tensor x, t, l, g;
    softce_tensor_init(&x, SOFTCE_DTYPE_F32, 2, shape, logits);
    softce_tensor_init(&t, SOFTCE_DTYPE_I64, 1, shape, labels);
    softce_tensor_init(&l, SOFTCE_DTYPE_F32, 0, NULL, &loss); /* 0-d: mean over the batch */
    softce_tensor_init(&g, SOFTCE_DTYPE_F32, 2, shape, grad);
    softce_status s = softce_forward_backward(NULL, &x, &t, NULL, &l, &g); /* NULL = defaults */
    if (s != SOFTCE_OK) {
        fprintf(stderr, "%s: %s\n", softce_status_name(s), softce_last_error());
        return 1;
    }
    printf("loss = %.6f, grad[0] = {%.4f, %.4f, %.4f}\n", loss, grad[0][0], grad[0][1], grad[0][2]);
    return 0;
}
