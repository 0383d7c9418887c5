// A C++ downstream program: the header must work as C++ and link without extern "C" tricks.
#include <softce/softce.h>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    std::vector<double> logits = {0.5, -1.0, 2.0, 0.0};
    std::vector<int32_t> label = {2};
    double loss = 0.0;
    int64_t shape[2] = {1, 4};
    softce_tensor x, t, l;
    softce_tensor_init(&x, SOFTCE_DTYPE_F64, 2, shape, logits.data());
    softce_tensor_init(&t, SOFTCE_DTYPE_I32, 1, shape, label.data());
    softce_tensor_init(&l, SOFTCE_DTYPE_F64, 0, nullptr, &loss);
    softce_status s = softce_forward(nullptr, &x, &t, &l, nullptr);
    double sum = 0.0;
    for (double v : logits)
        sum += std::exp(v);
    double want = std::log(sum) - logits[2]; // -log_softmax(x)[2]
    if (s != SOFTCE_OK || std::fabs(loss - want) > 1e-12) {
        std::fprintf(stderr, "%s: %s, loss %.17g, want %.17g\n", softce_status_name(s),
                     softce_last_error(), loss, want);
        return 1;
    }
    std::printf("C++ consumer OK: loss %.6f\n", loss);
    return 0;
}
