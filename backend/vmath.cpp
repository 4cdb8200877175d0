// Vectorisable f32 exp, log, log1p and tanh (Cephes' single-precision algorithms: range
// reduction, a minimax polynomial, exponent arithmetic on the bits), about 1-2 ulp.
// Every function works on float scalars and float vectors alike.
#include "backend/vmath.hpp"
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

namespace kiln::backend {

using llvm::Value;
namespace I = llvm::Intrinsic;

namespace {

bool is_f32(Value* x) { return x->getType()->getScalarType()->isFloatTy(); }
Value* fc(Value* like, double v) { return llvm::ConstantFP::get(like->getType(), v); }
llvm::Type* int_type(Value* like) {  // i32 or <n x i32> matching a float value
  llvm::Type* i32 = llvm::Type::getInt32Ty(like->getContext());
  if (auto* vt = llvm::dyn_cast<llvm::VectorType>(like->getType())) return llvm::VectorType::get(i32, vt->getElementCount());
  return i32;
}
Value* ic(Value* like, int32_t v) { return llvm::ConstantInt::get(int_type(like), uint64_t(uint32_t(v))); }
// Horner: c[0] x^n + c[1] x^(n-1) + ... + c[n].
Value* poly(Builder& b, Value* x, std::initializer_list<double> c) {
  Value* y = nullptr;
  for (double k : c) y = y ? b.CreateFAdd(b.CreateFMul(y, x), fc(x, k)) : fc(x, k);
  return y;
}
// 2^n for integer n in [-126, 127], as a float of the same shape.
Value* pow2(Builder& b, Value* n, Value* like) {
  Value* bits = b.CreateShl(b.CreateAdd(n, ic(like, 127)), ic(like, 23));
  return b.CreateBitCast(bits, like->getType());
}

}  // namespace

Value* libm_call(Builder& b, std::string_view name, Value* x) {
  llvm::Module& m = *b.GetInsertBlock()->getModule();
  std::string fn(name);
  if (x->getType()->isFloatTy()) fn += 'f';
  auto callee = m.getOrInsertFunction(fn, llvm::FunctionType::get(x->getType(), {x->getType()}, false));
  if (auto* f = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    f->setDoesNotAccessMemory();
    f->setDoesNotThrow();
    f->setWillReturn();
  }
  auto* call = b.CreateCall(callee, {x});
  call->setDoesNotAccessMemory();
  return call;
}

// exp(x) = 2^n p(r), n = round(x log2 e), r = x - n ln 2 (ln 2 in two parts);
// 2^n applied as two factors so that n may reach 128 and -149 (denormals).
Value* math_exp(Builder& b, Value* x) {
  if (!is_f32(x)) return b.CreateUnaryIntrinsic(I::exp, x);
  Value* nan = b.CreateFCmpUNO(x, x);
  Value* xc = b.CreateSelect(nan, fc(x, 0), x);
  xc = b.CreateSelect(b.CreateFCmpOGT(xc, fc(x, 88.8)), fc(x, 88.8), xc);
  xc = b.CreateSelect(b.CreateFCmpOLT(xc, fc(x, -104)), fc(x, -104), xc);
  Value* fx = b.CreateUnaryIntrinsic(I::floor, b.CreateFAdd(b.CreateFMul(xc, fc(x, 1.44269504088896341)), fc(x, 0.5)));
  Value* r = b.CreateFSub(b.CreateFSub(xc, b.CreateFMul(fx, fc(x, 0.693359375))), b.CreateFMul(fx, fc(x, -2.12194440e-4)));
  Value* z = b.CreateFMul(r, r);
  Value* p = poly(b, r, {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3, 4.1665795894E-2, 1.6666665459E-1,
                         5.0000001201E-1});
  Value* y = b.CreateFAdd(b.CreateFAdd(b.CreateFMul(p, z), r), fc(x, 1));
  Value* n = b.CreateFPToSI(fx, int_type(x));
  Value* n1 = b.CreateAShr(n, ic(x, 1));
  Value* res = b.CreateFMul(b.CreateFMul(y, pow2(b, n1, x)), pow2(b, b.CreateSub(n, n1), x));
  res = b.CreateSelect(b.CreateFCmpOGT(x, fc(x, 88.72283905206835)), llvm::ConstantFP::getInfinity(x->getType()), res);
  res = b.CreateSelect(b.CreateFCmpOLT(x, fc(x, -103.972084)), fc(x, 0), res);
  return b.CreateSelect(nan, x, res);
}

// log(x) = e ln 2 + log(m), x = m 2^e with m in [sqrt(1/2), sqrt 2); log(1 + f) by a
// polynomial in f = m - 1. Denormals are scaled by 2^23 first; log 0 = -inf, log of a
// negative number NaN, log inf = inf.
Value* math_log(Builder& b, Value* x) {
  if (!is_f32(x)) return b.CreateUnaryIntrinsic(I::log, x);
  Value* tiny = b.CreateFCmpOLT(x, fc(x, 1.17549435e-38));
  Value* xs = b.CreateSelect(tiny, b.CreateFMul(x, fc(x, 8388608.0)), x);
  Value* bits = b.CreateBitCast(xs, int_type(x));
  Value* e = b.CreateSub(b.CreateAnd(b.CreateLShr(bits, ic(x, 23)), ic(x, 0xff)), ic(x, 126));
  e = b.CreateSub(e, b.CreateSelect(tiny, ic(x, 23), ic(x, 0)));
  Value* m = b.CreateBitCast(b.CreateOr(b.CreateAnd(bits, ic(x, int32_t(0x807fffff))), ic(x, 0x3f000000)), x->getType());
  Value* small = b.CreateFCmpOLT(m, fc(x, 0.707106781186547524));
  e = b.CreateSub(e, b.CreateSelect(small, ic(x, 1), ic(x, 0)));
  Value* f = b.CreateFSub(b.CreateSelect(small, b.CreateFAdd(m, m), m), fc(x, 1));
  Value* fe = b.CreateSIToFP(e, x->getType());
  Value* z = b.CreateFMul(f, f);
  Value* y = poly(b, f, {7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
                         -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1});
  y = b.CreateFMul(b.CreateFMul(y, f), z);
  y = b.CreateFAdd(y, b.CreateFMul(fe, fc(x, -2.12194440e-4)));
  y = b.CreateFSub(y, b.CreateFMul(z, fc(x, 0.5)));
  Value* res = b.CreateFAdd(b.CreateFAdd(f, y), b.CreateFMul(fe, fc(x, 0.693359375)));
  llvm::Type* t = x->getType();
  res = b.CreateSelect(b.CreateFCmpOEQ(x, llvm::ConstantFP::getInfinity(t)), x, res);
  res = b.CreateSelect(b.CreateFCmpOEQ(x, fc(x, 0)), llvm::ConstantFP::getInfinity(t, true), res);
  return b.CreateSelect(b.CreateFCmpOGE(x, fc(x, 0)), res, llvm::ConstantFP::getNaN(t));  // x < 0 or NaN: NaN
}

// log1p(x) = log(w) x / (w - 1) with w = 1 + x rounded (Goldberg's correction), x when
// w == 1; inf for x = inf.
Value* math_log1p(Builder& b, Value* x) {
  if (!is_f32(x)) return libm_call(b, "log1p", x);
  Value* w = b.CreateFAdd(fc(x, 1), x);
  Value* wm1 = b.CreateFSub(w, fc(x, 1));
  Value* safe = b.CreateSelect(b.CreateFCmpOEQ(wm1, fc(x, 0)), fc(x, 1), wm1);
  Value* r = b.CreateFDiv(b.CreateFMul(math_log(b, w), x), safe);
  r = b.CreateSelect(b.CreateFCmpOEQ(wm1, fc(x, 0)), x, r);
  return b.CreateSelect(b.CreateFCmpOEQ(x, llvm::ConstantFP::getInfinity(x->getType())), x, r);
}

// expm1(x) = (u - 1) x / log u with u = exp(x) (Kahan's correction); x when u == 1, -1
// when u - 1 == -1, u for x > 20.
Value* math_expm1(Builder& b, Value* x) {
  if (!is_f32(x)) return libm_call(b, "expm1", x);
  Value* u = math_exp(b, x);
  Value* um1 = b.CreateFSub(u, fc(x, 1));
  Value* lu = math_log(b, u);
  Value* safe = b.CreateSelect(b.CreateFCmpOEQ(lu, fc(x, 0)), fc(x, 1), lu);
  Value* r = b.CreateFDiv(b.CreateFMul(um1, x), safe);
  r = b.CreateSelect(b.CreateFCmpOEQ(um1, fc(x, -1)), fc(x, -1), r);
  r = b.CreateSelect(b.CreateFCmpOGT(x, fc(x, 20)), u, r);  // u - 1 rounds to u (and (u - 1) x could overflow)
  return b.CreateSelect(b.CreateFCmpOEQ(u, fc(x, 1)), x, r);
}

// tanh: an odd polynomial for |x| < 0.625, else sign(x) (1 - 2 / (exp(2|x|) + 1)).
Value* math_tanh(Builder& b, Value* x) {
  if (!is_f32(x)) return libm_call(b, "tanh", x);
  Value* ax = b.CreateUnaryIntrinsic(I::fabs, x);
  Value* z = b.CreateFMul(x, x);
  Value* p = poly(b, z, {-5.70498872745E-3, 2.06390887954E-2, -5.37397155531E-2, 1.33314422036E-1, -3.33332819422E-1});
  Value* small = b.CreateFAdd(b.CreateFMul(b.CreateFMul(p, z), x), x);
  Value* big = b.CreateFSub(fc(x, 1), b.CreateFDiv(fc(x, 2), b.CreateFAdd(math_exp(b, b.CreateFAdd(ax, ax)), fc(x, 1))));
  big = b.CreateBinaryIntrinsic(I::copysign, big, x);
  return b.CreateSelect(b.CreateFCmpOLT(ax, fc(x, 0.625)), small, big);  // NaN: big, NaN
}

}  // namespace kiln::backend
