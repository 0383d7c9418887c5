! check_loss: libsoftce from Fortran. Computes cross-entropy losses and gradients through the
! softce module and checks them against the same formulas evaluated here in double precision
! (and against PyTorch's value for the first case). Prints one line per check and stops with
! a non-zero status when a check fails.
!
! SPDX-License-Identifier: MIT
program check_loss
    use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_float, c_double, c_loc
    use softce
    implicit none

    integer, parameter :: C = 3, N = 4
    ! logits(class, sample): column-major, so each sample's classes are contiguous = (N, C).
    real(c_float), target :: logits(C, N) = reshape([1.0, 2.0, 0.5, 0.1, 0.2, 3.0, &
                                                     2.0, -1.0, 0.0, 0.3, 0.3, 0.3], [C, N])
    integer :: failures = 0, checks = 0

    if (softce_version() / 10000 /= 1) call fail("libsoftce major version is not 1")
    call hard_targets_with_weights()
    call soft_targets_with_smoothing()
    call in_place_training_step()
    call error_reporting()

    print '(a, i0, a, i0, a)', "fortran: ", checks - failures, " passed, ", failures, " failed"
    if (failures /= 0) error stop 1

contains

    !> log_softmax of one sample, in double precision.
    function log_softmax(x) result(y)
        real(c_float), intent(in) :: x(:)
        real(c_double) :: y(size(x)), m
        m = maxval(real(x, c_double))
        y = real(x, c_double) - (m + log(sum(exp(real(x, c_double) - m))))
    end function

    subroutine expect_close(what, got, want, rel)
        character(len=*), intent(in) :: what
        real(c_double), intent(in) :: got, want, rel
        checks = checks + 1
        if (abs(got - want) <= rel * max(abs(want), 1d-30)) then
            print '(a, a, f12.8)', "ok   ", what, got
        else
            print '(a, a, 2f14.9)', "FAIL ", what, got, want
            failures = failures + 1
        end if
    end subroutine

    subroutine expect(what, condition)
        character(len=*), intent(in) :: what
        logical, intent(in) :: condition
        checks = checks + 1
        if (condition) then
            print '(a, a)', "ok   ", what
        else
            print '(a, a)', "FAIL ", what
            failures = failures + 1
        end if
    end subroutine

    subroutine call_ok(status, what)
        integer(c_int), intent(in) :: status
        character(len=*), intent(in) :: what
        if (status /= SOFTCE_OK) call fail(what // ": " // softce_status_name(status) // &
                                           ": " // softce_last_error())
    end subroutine

    subroutine fail(message)
        character(len=*), intent(in) :: message
        print '(a, a)', "FAIL ", message
        error stop 1
    end subroutine

    !> Class weights and ignore_index, mean reduction (PyTorch: 0.3295383771522594).
    subroutine hard_targets_with_weights()
        ! Fortran-style labels 1..C; the last sample is ignored (-100 after the shift).
        integer, parameter :: labels_1based(N) = [2, 3, 1, -99]
        integer(c_int64_t), target :: labels(N)
        real(c_double), target :: weight(C) = [1d0, 2d0, 0.5d0]
        real(c_double), target :: loss
        type(softce_tensor) :: x, t, l
        type(softce_tensor), target :: w
        type(softce_options) :: opts
        real(c_double) :: y(C), total, denom
        integer :: i, k

        labels = int(labels_1based - 1, c_int64_t) ! 0-based class indices
        call call_ok(softce_describe(x, SOFTCE_DTYPE_F32, shape(logits), c_loc(logits)), "x")
        call call_ok(softce_describe(t, SOFTCE_DTYPE_I64, shape(labels), c_loc(labels)), "t")
        call call_ok(softce_describe(w, SOFTCE_DTYPE_F64, shape(weight), c_loc(weight)), "w")
        call call_ok(softce_describe(l, SOFTCE_DTYPE_F64, shape(loss), c_loc(loss)), "loss")
        call softce_options_init(opts)
        opts%weight = c_loc(w)
        call call_ok(softce_forward(opts, x, t, l), "softce_forward")

        total = 0
        denom = 0
        do i = 1, N
            if (labels(i) == -100) cycle
            k = int(labels(i)) + 1
            y = log_softmax(logits(:, i))
            total = total - weight(k) * y(k)
            denom = denom + weight(k)
        end do
        call expect_close("hard targets, weighted mean    ", loss, total / denom, 1d-6)
        call expect_close("same as PyTorch                ", loss, 0.3295383771522594d0, 1d-6)
    end subroutine

    !> Soft targets (probabilities), label smoothing 0.1, sum reduction, f32 loss.
    subroutine soft_targets_with_smoothing()
        real(c_float), target :: probs(C, N), loss
        type(softce_tensor) :: x, p, l
        type(softce_options) :: opts
        real(c_double), parameter :: eps = 0.1d0
        real(c_double) :: q(C), want
        integer :: i

        probs = reshape([0.1, 0.7, 0.2, 0.0, 0.0, 1.0, 0.5, 0.25, 0.25, 0.2, 0.3, 0.5], [C, N])
        call call_ok(softce_describe(x, SOFTCE_DTYPE_F32, shape(logits), c_loc(logits)), "x")
        call call_ok(softce_describe(p, SOFTCE_DTYPE_F32, shape(probs), c_loc(probs)), "p")
        call call_ok(softce_describe(l, SOFTCE_DTYPE_F32, shape(loss), c_loc(loss)), "loss")
        call softce_options_init(opts)
        opts%reduction = SOFTCE_REDUCTION_SUM
        opts%label_smoothing = eps
        call call_ok(softce_forward(opts, x, p, l), "softce_forward")

        want = 0
        do i = 1, N
            q = (1 - eps) * real(probs(:, i), c_double) + eps / C
            want = want - sum(q * log_softmax(logits(:, i)))
        end do
        call expect_close("soft targets, smoothing, sum   ", real(loss, c_double), want, 1d-6)
    end subroutine

    !> softce_forward_backward with grad_logits = logits: the gradient replaces the logits.
    subroutine in_place_training_step()
        real(c_float), target :: z(C, N), loss
        integer(c_int64_t), target :: labels(N) = [0, 2, 1, 1]
        type(softce_tensor) :: tz, t, l
        real(c_double) :: s(C), want_loss, err
        integer :: i

        z = logits
        call call_ok(softce_describe(tz, SOFTCE_DTYPE_F32, shape(z), c_loc(z)), "z")
        call call_ok(softce_describe(t, SOFTCE_DTYPE_I64, shape(labels), c_loc(labels)), "t")
        call call_ok(softce_describe(l, SOFTCE_DTYPE_F32, shape(loss), c_loc(loss)), "loss")
        ! No options argument: the defaults (mean). tz is passed as logits and grad_logits.
        call call_ok(softce_forward_backward(logits=tz, target=t, loss=l, grad_logits=tz), &
                     "softce_forward_backward")

        want_loss = 0
        err = 0
        do i = 1, N
            s = exp(log_softmax(logits(:, i)))
            want_loss = want_loss - log(s(labels(i) + 1)) / N
            s(labels(i) + 1) = s(labels(i) + 1) - 1
            err = max(err, maxval(abs(real(z(:, i), c_double) - s / N)))
        end do
        call expect_close("in place: loss                 ", real(loss, c_double), want_loss, 1d-6)
        call expect("in place: gradient (softmax - onehot) / N", err < 1d-6)
    end subroutine

    !> An out-of-range class index: SOFTCE_ERROR_TARGET, a detail, and nothing written.
    subroutine error_reporting()
        integer(c_int64_t), target :: labels(N) = [1, 2, 7, 0]
        real(c_float), target :: loss = -1.0, losses(N)
        type(softce_tensor) :: x, t, l
        integer(c_int) :: status

        call call_ok(softce_describe(x, SOFTCE_DTYPE_F32, shape(logits), c_loc(logits)), "x")
        call call_ok(softce_describe(t, SOFTCE_DTYPE_I64, shape(labels), c_loc(labels)), "t")
        call call_ok(softce_describe(l, SOFTCE_DTYPE_F32, shape(loss), c_loc(loss)), "loss")
        status = softce_forward(logits=x, target=t, loss=l)
        call expect("error: " // softce_status_name(status), status == SOFTCE_ERROR_TARGET)
        call expect("detail: " // softce_last_error(), &
                    softce_last_error() == "target[2] = 7 is outside [0, 3)")
        call expect("a failed call writes nothing", transfer(loss, 0) == transfer(-1.0, 0))
        labels(3) = 2
        call call_ok(softce_describe(l, SOFTCE_DTYPE_F32, shape(losses), c_loc(losses)), "l")
        status = softce_forward(logits=x, target=t, loss=l) ! a (N) loss needs reduction none
        call expect("shape: " // softce_last_error(), status == SOFTCE_ERROR_SHAPE)
    end subroutine

end program check_loss
