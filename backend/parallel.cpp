// Parallel kernels: their creation (extra part/parts parameters), the entry's call
// through kiln_parallel (a trampoline unpacking an argument array), and the loop helpers
// generators use to take their part of the work.
#include "backend/parallel.hpp"
#include <llvm/IR/Module.h>

namespace kiln::backend {

namespace {
constexpr const char* kPartsAttr = "kiln-parts";
}

int64_t kernel_parts(const Graph& g, const Node& n, int lanes) {
  const OpGen& gen = op_gen(n.op);
  return gen.parts ? gen.parts(g, n, lanes) : 0;
}

llvm::Function* create_kernel(llvm::Module& m, size_t pointer_args, const std::string& name, bool external,
                              int64_t parts) {
  llvm::LLVMContext& ctx = m.getContext();
  std::vector<llvm::Type*> args(pointer_args, llvm::PointerType::getUnqual(ctx));
  if (parts > 1) args.insert(args.end(), 2, llvm::Type::getInt64Ty(ctx));
  auto* ft = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), args, false);
  auto* f = llvm::Function::Create(ft, external ? llvm::GlobalValue::ExternalLinkage : llvm::GlobalValue::InternalLinkage,
                                   name, m);
  f->addFnAttr(llvm::Attribute::NoInline);
  f->addFnAttr(llvm::Attribute::NoUnwind);
  for (size_t i = 0; i < pointer_args; ++i) {
    f->getArg(unsigned(i))->addAttr(llvm::Attribute::NoAlias);
    f->getArg(unsigned(i))->addAttr(llvm::Attribute::NoCapture);
  }
  if (parts > 1) f->addFnAttr(kPartsAttr, std::to_string(parts));
  return f;
}

void bind_parts(KernelCtx& k, llvm::Function* f) {
  if (!f->hasFnAttribute(kPartsAttr)) return;
  k.part = f->getArg(f->arg_size() - 2);
  k.parts = f->getArg(f->arg_size() - 1);
}

void emit_kernel_call(Builder& b, llvm::Function* f, std::span<llvm::Value* const> args) {
  if (!f->hasFnAttribute(kPartsAttr)) {
    b.CreateCall(f, llvm::ArrayRef<llvm::Value*>(args.data(), args.size()));
    return;
  }
  int64_t parts = std::stoll(f->getFnAttribute(kPartsAttr).getValueAsString().str());
  llvm::Module& m = *f->getParent();
  llvm::LLVMContext& ctx = m.getContext();
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  llvm::Type* i64t = llvm::Type::getInt64Ty(ctx);
  const size_t n = args.size();
  // The trampoline kiln_parallel calls: void <kernel>.part(ptr args, i64 part, i64 parts).
  std::string tname = f->getName().str() + ".part";
  llvm::Function* t = m.getFunction(tname);
  if (!t) {
    auto* tt = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, i64t, i64t}, false);
    t = llvm::Function::Create(tt, llvm::GlobalValue::InternalLinkage, tname, m);
    t->addFnAttr(llvm::Attribute::NoUnwind);
    Builder tb(llvm::BasicBlock::Create(ctx, "entry", t));
    std::vector<llvm::Value*> call;
    for (size_t i = 0; i < n; ++i)
      call.push_back(tb.CreateLoad(ptr, tb.CreateConstInBoundsGEP1_64(ptr, t->getArg(0), i)));
    call.push_back(t->getArg(1));
    call.push_back(t->getArg(2));
    tb.CreateCall(f, call);
    tb.CreateRetVoid();
  }
  // The argument array: a stack slot in the entry block.
  llvm::Function* caller = b.GetInsertBlock()->getParent();
  Builder eb(&caller->getEntryBlock(), caller->getEntryBlock().begin());
  auto* arr = eb.CreateAlloca(llvm::ArrayType::get(ptr, n), nullptr, "kargs");
  for (size_t i = 0; i < n; ++i) b.CreateStore(args[i], b.CreateConstInBoundsGEP2_64(arr->getAllocatedType(), arr, 0, i));
  auto* pt = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, ptr, i64t}, false);
  llvm::FunctionCallee par = m.getOrInsertFunction("kiln_parallel", pt);
  if (auto* pf = llvm::dyn_cast<llvm::Function>(par.getCallee())) pf->addFnAttr(llvm::Attribute::NoUnwind);
  b.CreateCall(par, {t, arr, i64(b, parts)});
}

void emit_range(Builder& b, llvm::Value* lo, llvm::Value* hi, const std::function<void(llvm::Value*)>& body,
                const char* name) {
  llvm::LLVMContext& ctx = b.getContext();
  llvm::BasicBlock* pre = b.GetInsertBlock();
  llvm::Function* f = pre->getParent();
  auto* head = llvm::BasicBlock::Create(ctx, name, f);
  auto* exit = llvm::BasicBlock::Create(ctx, std::string(name) + ".end", f);
  b.CreateCondBr(b.CreateICmpSLT(lo, hi), head, exit);
  b.SetInsertPoint(head);
  auto* i = b.CreatePHI(b.getInt64Ty(), 2, name);
  i->addIncoming(lo, pre);
  body(i);
  auto* next = b.CreateAdd(i, i64(b, 1), "", true, true);
  i->addIncoming(next, b.GetInsertBlock());
  b.CreateCondBr(b.CreateICmpSLT(next, hi), head, exit);
  b.SetInsertPoint(exit);
}

void emit_if(Builder& b, llvm::Value* cond, const std::function<void()>& body) {
  llvm::LLVMContext& ctx = b.getContext();
  llvm::Function* f = b.GetInsertBlock()->getParent();
  auto* then = llvm::BasicBlock::Create(ctx, "then", f);
  auto* done = llvm::BasicBlock::Create(ctx, "endif", f);
  b.CreateCondBr(cond, then, done);
  b.SetInsertPoint(then);
  body();
  b.CreateBr(done);
  b.SetInsertPoint(done);
}

std::pair<llvm::Value*, llvm::Value*> part_range(Builder& b, const KernelCtx& k, int64_t total) {
  if (!k.part) return {i64(b, 0), i64(b, total)};
  auto at = [&](llvm::Value* p) { return b.CreateUDiv(b.CreateMul(i64(b, total), p), k.parts); };
  return {at(k.part), at(b.CreateAdd(k.part, i64(b, 1)))};
}

}  // namespace kiln::backend
