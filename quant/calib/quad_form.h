// AWQ's per-group output error d^T G d (activations.h) for a symmetric Gram
// matrix G. A scalar reference (quad_form.cc) defines the result; the AVX2 /
// AVX-512 versions (quad_form_impl.h) differ from it by f64 rounding only.
// Chosen by ActiveSimdLevel().
#pragma once

#include <cstdint>

namespace glmq::calib {

// d^T G d for the symmetric n x n matrix G at g (leading dimension ld) and
// d[n]. The scalar reference: v = sum_j d_j G[j, :] (j ascending, skipping
// d_j == 0), then sum_i d_i v_i (i ascending). The SIMD versions read only
// G's upper triangle plus diagonal blocks (the mirrored terms doubled, about
// half the multiply-adds) and so differ from it by f64 rounding (summation
// order).
double QuadForm(const double* g, int64_t ld, const float* d, int64_t n);
// QuadForm of k vectors at once: e[c] = QuadForm(g, ld, d + c n, n), the same
// value on each SIMD level (up to the sign of a zero), reading G once per few
// vectors instead of once per vector. AWQ ranks all candidates of a group so.
void QuadForms(const double* g, int64_t ld, const float* d, int64_t n, int64_t k, double* e);

}  // namespace glmq::calib
