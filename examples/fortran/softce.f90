! softce: Fortran bindings to libsoftce (softmax cross-entropy loss and gradients) through
! ISO_C_BINDING. The descriptor and options are bind(c) derived types laid out as in
! softce/softce.h; the entry points are bind(c) interfaces, whose OPTIONAL arguments are passed
! as NULL when absent (Fortran 2018 / TS 29113: gfortran >= 4.9).
!
! Memory order: a Fortran array is column-major, so logits(C, N) -- classes along the first,
! fastest index -- are the row-major (N, C) tensor libsoftce expects, and likewise
! x(W, H, C, N) is (N, C, H, W). softce_describe() reverses the shape for you.
! Class indices are 0-based, as in C and PyTorch: subtract 1 from Fortran-style labels.
!
! Build: gfortran -c softce.f90 && gfortran app.f90 softce.o $(pkg-config --libs softce)
!
! SPDX-License-Identifier: MIT
module softce
    use, intrinsic :: iso_c_binding, only: c_int, c_int32_t, c_int64_t, c_double, c_ptr, &
                                           c_char, c_associated, c_f_pointer
    implicit none
    private

    integer, parameter, public :: SOFTCE_MAX_DIMS = 8

    ! softce_status
    integer(c_int), parameter, public :: SOFTCE_OK = 0, SOFTCE_ERROR_NULL_POINTER = 1, &
        SOFTCE_ERROR_STRUCT_SIZE = 2, SOFTCE_ERROR_DTYPE = 3, SOFTCE_ERROR_NDIM = 4, &
        SOFTCE_ERROR_SHAPE = 5, SOFTCE_ERROR_STRIDE = 6, SOFTCE_ERROR_OVERFLOW = 7, &
        SOFTCE_ERROR_OVERLAP = 8, SOFTCE_ERROR_OPTION = 9, SOFTCE_ERROR_TARGET = 10, &
        SOFTCE_ERROR_OUT_OF_MEMORY = 11, SOFTCE_ERROR_INTERNAL = 12
    ! softce_dtype
    integer(c_int), parameter, public :: SOFTCE_DTYPE_F32 = 1, SOFTCE_DTYPE_F64 = 2, &
        SOFTCE_DTYPE_F16 = 3, SOFTCE_DTYPE_BF16 = 4, SOFTCE_DTYPE_I32 = 5, SOFTCE_DTYPE_I64 = 6
    ! softce_reduction
    integer(c_int32_t), parameter, public :: SOFTCE_REDUCTION_MEAN = 1, &
        SOFTCE_REDUCTION_SUM = 2, SOFTCE_REDUCTION_NONE = 3

    !> softce_tensor: data + dtype + shape + strides (in elements), row-major indices.
    type, bind(c), public :: softce_tensor
        integer(c_int32_t) :: struct_size ! sizeof(softce_tensor), set by softce_tensor_init
        integer(c_int32_t) :: dtype
        integer(c_int32_t) :: ndim
        integer(c_int32_t) :: reserved
        type(c_ptr) :: data
        integer(c_int64_t) :: shape(SOFTCE_MAX_DIMS)
        integer(c_int64_t) :: strides(SOFTCE_MAX_DIMS)
    end type softce_tensor

    !> softce_options: fill with softce_options_init, then change fields.
    type, bind(c), public :: softce_options
        integer(c_int32_t) :: struct_size
        integer(c_int32_t) :: reduction
        integer(c_int64_t) :: ignore_index
        real(c_double) :: label_smoothing
        type(c_ptr) :: weight ! c_loc of a softce_tensor (with the target attribute), or null
        integer(c_int32_t) :: num_threads
        integer(c_int32_t) :: flags ! uint32_t in C; 0 or SOFTCE_FLAG_KL (1)
        ! appended in 1.1.0 (softce_options_init fills them)
        real(c_double) :: z_loss
        real(c_double) :: softcap
        real(c_double) :: logit_scale
        type(c_ptr) :: sample_weight
        integer(c_int32_t) :: denominator
        integer(c_int32_t) :: empty
        real(c_double) :: denominator_value
        integer(c_int32_t) :: smoothing
        integer(c_int32_t) :: reserved
        type(c_ptr) :: smoothing_prior
        type(c_ptr) :: out_lse
        type(c_ptr) :: out_argmax
        type(c_ptr) :: out_correct
        type(c_ptr) :: out_z_loss
    end type softce_options

    public :: softce_tensor_init, softce_options_init, softce_forward, softce_backward, &
              softce_forward_backward, softce_log_softmax, softce_version, &
              softce_describe, softce_status_name, softce_last_error

    interface
        function softce_version() bind(c, name="softce_version") result(v)
            import :: c_int
            integer(c_int) :: v ! unsigned in C; MAJOR*10000 + MINOR*100 + PATCH
        end function

        function softce_tensor_init(t, dtype, ndim, shape, data) &
            bind(c, name="softce_tensor_init") result(status)
            import :: softce_tensor, c_int, c_int32_t, c_int64_t, c_ptr
            type(softce_tensor), intent(out) :: t
            integer(c_int), value :: dtype
            integer(c_int32_t), value :: ndim
            integer(c_int64_t), intent(in) :: shape(*)
            type(c_ptr), value :: data
            integer(c_int) :: status
        end function

        subroutine softce_options_init(opts) bind(c, name="softce_options_init")
            import :: softce_options
            type(softce_options), intent(out) :: opts
        end subroutine

        function softce_forward(opts, logits, target, loss, lse) &
            bind(c, name="softce_forward") result(status)
            import :: softce_options, softce_tensor, c_int
            type(softce_options), intent(in), optional :: opts
            type(softce_tensor), intent(in) :: logits, target, loss
            type(softce_tensor), intent(in), optional :: lse
            integer(c_int) :: status
        end function

        function softce_backward(opts, logits, target, grad_loss, lse, grad_logits, &
                                 grad_target) bind(c, name="softce_backward") result(status)
            import :: softce_options, softce_tensor, c_int
            type(softce_options), intent(in), optional :: opts
            type(softce_tensor), intent(in) :: logits, target
            type(softce_tensor), intent(in), optional :: grad_loss, lse, grad_logits, grad_target
            integer(c_int) :: status
        end function

        !> grad_logits may be the very same descriptor as logits: the gradient then
        !> overwrites the logits in place.
        function softce_forward_backward(opts, logits, target, grad_loss, loss, grad_logits) &
            bind(c, name="softce_forward_backward") result(status)
            import :: softce_options, softce_tensor, c_int
            type(softce_options), intent(in), optional :: opts
            type(softce_tensor), intent(in) :: logits, target
            type(softce_tensor), intent(in), optional :: grad_loss, loss
            type(softce_tensor), intent(in) :: grad_logits
            integer(c_int) :: status
        end function

        function softce_log_softmax(opts, logits, out) &
            bind(c, name="softce_log_softmax") result(status)
            import :: softce_options, softce_tensor, c_int
            type(softce_options), intent(in), optional :: opts
            type(softce_tensor), intent(in) :: logits, out
            integer(c_int) :: status
        end function

        function c_status_name(status) bind(c, name="softce_status_name") result(p)
            import :: c_int, c_ptr
            integer(c_int), value :: status
            type(c_ptr) :: p
        end function

        function c_last_error() bind(c, name="softce_last_error") result(p)
            import :: c_ptr
            type(c_ptr) :: p
        end function

        function c_strlen(s) bind(c, name="strlen") result(n)
            import :: c_ptr, c_int64_t
            type(c_ptr), value :: s
            integer(c_int64_t) :: n
        end function
    end interface

contains

    !> Describes a contiguous Fortran array (pass shape(x) and c_loc(x); x needs the target
    !> attribute) as the row-major tensor of the reversed shape. A scalar (shape(x) empty)
    !> gives a 0-d tensor.
    function softce_describe(t, dtype, fortran_shape, data) result(status)
        type(softce_tensor), intent(out) :: t
        integer(c_int), intent(in) :: dtype
        integer, intent(in) :: fortran_shape(:)
        type(c_ptr), intent(in) :: data
        integer(c_int) :: status
        integer(c_int64_t) :: c_shape(SOFTCE_MAX_DIMS)
        integer :: n

        n = size(fortran_shape)
        if (n > SOFTCE_MAX_DIMS) then
            status = SOFTCE_ERROR_NDIM
            return
        end if
        c_shape = 0
        c_shape(1:n) = int(fortran_shape(n:1:-1), c_int64_t)
        status = softce_tensor_init(t, dtype, int(n, c_int32_t), c_shape, data)
    end function

    !> The enumerator's name, e.g. "SOFTCE_ERROR_TARGET".
    function softce_status_name(status) result(name)
        integer(c_int), intent(in) :: status
        character(len=:), allocatable :: name
        name = to_fortran(c_status_name(status))
    end function

    !> The detail of the last failed call on this thread, e.g. "target[2] = 7 is outside ...".
    function softce_last_error() result(detail)
        character(len=:), allocatable :: detail
        detail = to_fortran(c_last_error())
    end function

    function to_fortran(p) result(s)
        type(c_ptr), intent(in) :: p
        character(len=:), allocatable :: s
        character(kind=c_char), pointer :: chars(:)
        integer :: i, n

        if (.not. c_associated(p)) then
            s = ""
            return
        end if
        n = int(c_strlen(p))
        call c_f_pointer(p, chars, [n])
        allocate (character(len=n) :: s)
        do i = 1, n
            s(i:i) = chars(i)
        end do
    end function

end module softce
