#include "tools/inspect/unwinder.h"

#include <libunwind.h>

#include <cstring>

// libunwind's own lookup in a remote .eh_frame_hdr table, which its ptrace
// and core-file accessors use too; exported by libunwind-x86_64 but not
// declared in its public headers.
extern "C" int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t* di,
                                                  unw_proc_info_t* pi, int need_unwind_info, void* arg);

namespace respct::inspect {
namespace {

struct UnwindState {
  ProcessImage* image;
  SavedContext regs;
};

UnwindState* StateOf(void* arg) { return static_cast<UnwindState*>(arg); }

int FindProcInfo(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t* pi, int need_unwind_info, void* arg) {
  const ProcessImage::Module* mod = StateOf(arg)->image->ModuleAt(ip);
  ElfFile::UnwindIndex index;
  if (mod == nullptr || !mod->elf->unwind_index(&index)) return -UNW_ENOINFO;
  unw_dyn_info_t di;
  std::memset(&di, 0, sizeof di);
  di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
  di.start_ip = mod->lo;
  di.end_ip = mod->hi;
  di.u.rti.segbase = mod->bias + index.hdr_vaddr;
  di.u.rti.table_data = mod->bias + index.table_vaddr;
  // Entries are two 32-bit words; libunwind counts the table in unw_word_t.
  di.u.rti.table_len = index.entries * 8 / sizeof(unw_word_t);
  return _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
}

// The unwind info libunwind allocates for a remote table stays with it.
void PutUnwindInfo(unw_addr_space_t, unw_proc_info_t*, void*) {}

int GetDynInfoListAddr(unw_addr_space_t, unw_word_t*, void*) { return -UNW_ENOINFO; }

int AccessMem(unw_addr_space_t, unw_word_t addr, unw_word_t* val, int write, void* arg) {
  if (write != 0) return -UNW_EINVAL;  // the image is never changed
  return StateOf(arg)->image->ReadMemory(addr, val, sizeof *val) ? 0 : -UNW_EINVAL;
}

int AccessReg(unw_addr_space_t, unw_regnum_t reg, unw_word_t* val, int write, void* arg) {
  if (write != 0) return -UNW_EINVAL;
  const SavedContext& r = StateOf(arg)->regs;
  switch (reg) {
    case UNW_X86_64_RIP: *val = r.rip; return 0;
    case UNW_X86_64_RSP: *val = r.rsp; return 0;
    case UNW_X86_64_RBP: *val = r.rbp; return 0;
    case UNW_X86_64_RBX: *val = r.rbx; return 0;
    case UNW_X86_64_R12: *val = r.r12; return 0;
    case UNW_X86_64_R13: *val = r.r13; return 0;
    case UNW_X86_64_R14: *val = r.r14; return 0;
    case UNW_X86_64_R15: *val = r.r15; return 0;
    default: return -UNW_EBADREG;  // caller-saved: not preserved at a restart point
  }
}

int AccessFpreg(unw_addr_space_t, unw_regnum_t, unw_fpreg_t*, int, void*) { return -UNW_EBADREG; }

int Resume(unw_addr_space_t, unw_cursor_t*, void*) { return -UNW_EINVAL; }

}  // namespace

Result<SavedContext> ContextAtFctx(ProcessImage* image, uint64_t fctx) {
  uint64_t frame[kFcontextFrameBytes / 8];
  if (fctx == 0 || !image->ReadMemory(fctx, frame, sizeof frame))
    return Status::Corruption("saved context at " + std::to_string(fctx) + " is not in the image's memory");
  SavedContext c;
  c.r12 = frame[1];
  c.r13 = frame[2];
  c.r14 = frame[3];
  c.r15 = frame[4];
  c.rbx = frame[5];
  c.rbp = frame[6];
  c.rip = frame[7];
  c.rsp = fctx + kFcontextFrameBytes;
  return c;
}

Backtrace Unwind(ProcessImage* image, const SavedContext& ctx, size_t max_frames) {
  Backtrace bt;
  unw_accessors_t acc;
  std::memset(&acc, 0, sizeof acc);
  acc.find_proc_info = FindProcInfo;
  acc.put_unwind_info = PutUnwindInfo;
  acc.get_dyn_info_list_addr = GetDynInfoListAddr;
  acc.access_mem = AccessMem;
  acc.access_reg = AccessReg;
  acc.access_fpreg = AccessFpreg;
  acc.resume = Resume;
  unw_addr_space_t as = unw_create_addr_space(&acc, 0);
  if (as == nullptr) {
    bt.stop_reason = "libunwind: cannot create an address space";
    return bt;
  }
  UnwindState state{image, ctx};
  unw_cursor_t cursor;
  int rc = unw_init_remote(&cursor, as, &state);
  while (rc >= 0 && bt.frames.size() < max_frames) {
    unw_word_t pc = 0, sp = 0;
    unw_get_reg(&cursor, UNW_REG_IP, &pc);
    unw_get_reg(&cursor, UNW_REG_SP, &sp);
    if (pc == 0) break;
    StackFrame f;
    f.pc = pc;
    f.sp = sp;
    // libunwind flags the frame whose registers came from a signal context:
    // the interrupted one. The frame before it is the trampoline.
    f.interrupted = unw_is_signal_frame(&cursor) > 0;
    if (f.interrupted && !bt.frames.empty()) bt.frames.back().signal_trampoline = true;
    bt.frames.push_back(std::move(f));
    rc = unw_step(&cursor);
    if (rc == 0) break;
  }
  for (StackFrame& f : bt.frames) {
    // Every other pc is a return address, the first one included (the
    // return into jump_fcontext's caller). The trampoline is entered by the
    // handler's return, at its first instruction.
    f.symbol = image->Symbolize(f.pc, !f.interrupted && !f.signal_trampoline);
    f.module = image->ModuleName(f.pc);
  }
  if (rc < 0) bt.stop_reason = std::string("unwind stopped: ") + unw_strerror(rc);
  else if (bt.frames.size() == max_frames) bt.stop_reason = "truncated at " + std::to_string(max_frames) + " frames";
  unw_destroy_addr_space(as);
  return bt;
}

}  // namespace respct::inspect
