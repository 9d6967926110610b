// tpdk's only native code: the few Linux system calls the vhost-user data and
// control paths need and Node 20 does not offer (see ../README.md for what each
// call guarantees). Every function validates its arguments (TypeError), makes
// one system call (retrying EINTR), and turns errno into a NativeError
// { code: "ENOENT", errno, syscall } with message "<syscall>(<arg>): <strerror>".
//
// Registered context-aware (NODE_MODULE_INIT): each Node environment (the main
// thread and every worker thread) gets its own instance state (Addon).
//
// Why V8 and not Node-API: Node-API on Node 20 cannot wrap external memory in a
// SharedArrayBuffer; v8::SharedArrayBuffer::NewBackingStore(ptr, len, deleter)
// can, and such a buffer posts to workers and supports Atomics.

#include <node.h>
#include <uv.h>
#include <v8.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <mutex>
#include <unordered_map>
#include <vector>

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26)  // MFD_HUGE_SHIFT 26, log2(2 MB) = 21
#endif

namespace {

using v8::Array;
using v8::ArrayBufferView;
using v8::Context;
using v8::External;
using v8::Function;
using v8::FunctionCallbackInfo;
using v8::FunctionTemplate;
using v8::Global;
using v8::HandleScope;
using v8::Integer;
using v8::Isolate;
using v8::Local;
using v8::MaybeLocal;
using v8::Number;
using v8::Object;
using v8::PropertyAttribute;
using v8::SharedArrayBuffer;
using v8::String;
using v8::Value;

constexpr int kMaxSendFds = 16;     // sendMsg limit (the vhost-user spec's VHOST_MEMORY_BASELINE_NREGIONS is 8)
constexpr int kMaxRecvFds = 253;    // SCM_MAX_FD: room for everything a peer can send, so extras get closed
constexpr int kMadvPopulateWrite = 23;  // MADV_POPULATE_WRITE (Linux 5.14); older libc headers lack it
constexpr double kMaxSafeInt = 9007199254740991.0;

struct Watch;

// Per-environment state (main thread and each worker have their own).
struct Addon {
  Isolate* isolate;
  Global<Function> errorCtor;  // NativeError, set by the TypeScript wrapper
  std::unordered_map<uint32_t, Watch*> watches;
  uint32_t nextWatchId = 1;
  std::vector<uint32_t> guards;  // guardMapping ids registered from this environment (dropped at its cleanup)
};

// ---------------------------------------------------------------- errors

const char* ErrnoName(int err, char* buf, size_t n) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char* s = strerrorname_np(err);
  if (s != nullptr) return s;
#endif
  // Fallback: libuv's names (UV_E* == -errno on Linux for the common ones).
  if (err > 0 && err < 4096) {
    const char* name = uv_err_name_r(-err, buf, n);
    if (name != nullptr && strncmp(name, "Unknown", 7) != 0) return name;
  }
  snprintf(buf, n, "E%d", err);
  return buf;
}

Local<String> Str(Isolate* iso, const std::string& s) {
  return String::NewFromUtf8(iso, s.c_str()).ToLocalChecked();
}

void ThrowErrno(Addon* a, const char* syscall, const std::string& arg, int err) {
  Isolate* iso = a->isolate;
  HandleScope hs(iso);
  Local<Context> ctx = iso->GetCurrentContext();
  char nameBuf[64];
  const char* code = ErrnoName(err, nameBuf, sizeof nameBuf);
  char msgBuf[256];
  const char* text = strerror_r(err, msgBuf, sizeof msgBuf);  // GNU variant returns the string
  std::string message = std::string(syscall) + "(" + arg + "): " + text;
  Local<Value> errObj;
  if (!a->errorCtor.IsEmpty()) {
    Local<Value> argv[4] = {Str(iso, message), Str(iso, code), Integer::New(iso, err), Str(iso, syscall)};
    MaybeLocal<Object> made = a->errorCtor.Get(iso)->NewInstance(ctx, 4, argv);
    if (made.IsEmpty()) return;  // the constructor threw; that exception propagates
    errObj = made.ToLocalChecked();
  } else {
    Local<Object> e = v8::Exception::Error(Str(iso, message)).As<Object>();
    e->Set(ctx, Str(iso, "code"), Str(iso, code)).Check();
    e->Set(ctx, Str(iso, "errno"), Integer::New(iso, err)).Check();
    e->Set(ctx, Str(iso, "syscall"), Str(iso, syscall)).Check();
    errObj = e;
  }
  iso->ThrowException(errObj);
}

void ThrowType(Isolate* iso, const std::string& msg) {
  iso->ThrowException(v8::Exception::TypeError(Str(iso, msg)));
}

void ThrowRange(Isolate* iso, const std::string& msg) {
  iso->ThrowException(v8::Exception::RangeError(Str(iso, msg)));
}

// V8 14.3+ (Node 26) tags External pointers and deprecates the untagged calls; its
// V8_EXTERNAL_POINTER_TAG_COUNT marks the tagged API (Node 20-24's V8 has only the untagged one).
Local<External> NewExternal(Isolate* iso, void* p) {
#ifdef V8_EXTERNAL_POINTER_TAG_COUNT
  return External::New(iso, p, v8::kExternalPointerTypeTagDefault);
#else
  return External::New(iso, p);
#endif
}

void* ExternalValue(Local<Value> v) {
#ifdef V8_EXTERNAL_POINTER_TAG_COUNT
  return v.As<External>()->Value(v8::kExternalPointerTypeTagDefault);
#else
  return v.As<External>()->Value();
#endif
}

Addon* GetAddon(const FunctionCallbackInfo<Value>& args) {
  return static_cast<Addon*>(ExternalValue(args.Data()));
}

// ---------------------------------------------------------------- argument helpers

bool ArgFd(const FunctionCallbackInfo<Value>& args, int i, const char* fn, int* out) {
  *out = -1;  // set on every path: gcc 12 at -std=gnu++20 (Node 24+) warns maybe-uninitialized otherwise
  if (!args[i]->IsInt32()) {
    ThrowType(args.GetIsolate(), std::string(fn) + ": fd must be an integer");
    return false;
  }
  *out = args[i].As<v8::Int32>()->Value();
  return true;
}

// A non-negative safe integer (sizes, offsets, counter values).
bool ArgSize(const FunctionCallbackInfo<Value>& args, int i, const char* fn, const char* what, double max, double* out) {
  if (!args[i]->IsNumber()) {
    ThrowType(args.GetIsolate(), std::string(fn) + ": " + what + " must be a number");
    return false;
  }
  double v = args[i].As<Number>()->Value();
  if (!(v >= 0) || v > max || v != static_cast<double>(static_cast<uint64_t>(v))) {
    ThrowRange(args.GetIsolate(), std::string(fn) + ": " + what + " must be an integer 0.." + std::to_string(static_cast<uint64_t>(max)));
    return false;
  }
  *out = v;
  return true;
}

bool ArgInt(const FunctionCallbackInfo<Value>& args, int i, const char* fn, const char* what, int* out) {
  *out = -1;  // set on every path: gcc 12 at -std=gnu++20 (Node 24+) warns maybe-uninitialized otherwise
  if (!args[i]->IsInt32()) {
    ThrowType(args.GetIsolate(), std::string(fn) + ": " + what + " must be an integer");
    return false;
  }
  *out = args[i].As<v8::Int32>()->Value();
  return true;
}

bool ArgString(const FunctionCallbackInfo<Value>& args, int i, const char* fn, const char* what, std::string* out) {
  if (!args[i]->IsString()) {
    ThrowType(args.GetIsolate(), std::string(fn) + ": " + what + " must be a string");
    return false;
  }
  String::Utf8Value s(args.GetIsolate(), args[i]);
  out->assign(*s, s.length());
  if (out->find('\0') != std::string::npos) {
    ThrowType(args.GetIsolate(), std::string(fn) + ": " + what + " must not contain NUL");
    return false;
  }
  return true;
}

// Optional boolean property of an options object (undefined: default).
bool OptBool(const FunctionCallbackInfo<Value>& args, int i, const char* fn, const char* key, bool def, bool* out) {
  *out = def;
  if (args.Length() <= i || args[i]->IsUndefined()) return true;
  Isolate* iso = args.GetIsolate();
  if (!args[i]->IsObject()) {
    ThrowType(iso, std::string(fn) + ": options must be an object");
    return false;
  }
  Local<Value> v;
  if (!args[i].As<Object>()->Get(iso->GetCurrentContext(), Str(iso, key)).ToLocal(&v)) return false;
  if (v->IsUndefined()) return true;
  if (!v->IsBoolean()) {
    ThrowType(iso, std::string(fn) + ": option " + key + " must be a boolean");
    return false;
  }
  *out = v->IsTrue();
  return true;
}

// Bytes of a Uint8Array (or any ArrayBufferView), on or off the V8 heap, shared or not.
bool ArgBytes(const FunctionCallbackInfo<Value>& args, int i, const char* fn, char** data, size_t* len) {
  if (!args[i]->IsArrayBufferView()) {
    ThrowType(args.GetIsolate(), std::string(fn) + ": data must be a Uint8Array");
    return false;
  }
  Local<ArrayBufferView> v = args[i].As<ArrayBufferView>();
  *len = v->ByteLength();
  // Buffer() moves an on-heap typed array's bytes off the heap, so the pointer stays valid.
  *data = static_cast<char*>(v->Buffer()->Data()) + v->ByteOffset();
  return true;
}

bool FillSockaddr(const FunctionCallbackInfo<Value>& args, Addon* a, const char* fn, const std::string& path, sockaddr_un* sa) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (path.empty()) {
    ThrowType(args.GetIsolate(), std::string(fn) + ": path must not be empty");
    return false;
  }
  if (path.size() >= sizeof sa->sun_path) {
    ThrowErrno(a, fn, path, ENAMETOOLONG);
    return false;
  }
  memcpy(sa->sun_path, path.data(), path.size());
  return true;
}

double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// poll() one fd; EINTR retried with the time that is left. Returns revents, 0 on
// timeout, -1 with errno set.
int PollOne(int fd, int events, int timeoutMs) {
  double deadline = timeoutMs >= 0 ? NowMs() + timeoutMs : 0;
  for (;;) {
    pollfd p = {fd, static_cast<short>(events), 0};
    int r = ::poll(&p, 1, timeoutMs);
    if (r > 0) return p.revents;
    if (r == 0) return 0;
    if (errno != EINTR) return -1;
    if (timeoutMs >= 0) {
      double left = deadline - NowMs();
      timeoutMs = left > 0 ? static_cast<int>(left + 0.999) : 0;
    }
  }
}

// ---------------------------------------------------------------- memory

void MemfdCreate(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  std::string name;
  double size;
  bool huge, sealing;
  if (!ArgString(args, 0, "memfdCreate", "name", &name)) return;
  if (!ArgSize(args, 1, "memfdCreate", "size", kMaxSafeInt, &size)) return;
  if (!OptBool(args, 2, "memfdCreate", "hugetlb", false, &huge)) return;
  if (!OptBool(args, 2, "memfdCreate", "allowSealing", false, &sealing)) return;
  unsigned flags = MFD_CLOEXEC;
  if (huge) flags |= MFD_HUGETLB | MFD_HUGE_2MB;
  if (sealing) flags |= MFD_ALLOW_SEALING;
  int fd = memfd_create(name.c_str(), flags);
  if (fd < 0) return ThrowErrno(a, "memfd_create", name, errno);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(a, "ftruncate", name, err);
  }
  args.GetReturnValue().Set(fd);
}

// Every live mapping made by mmapShared / mmapSharedFiles, process-wide:
// unmapShared and guardMapping only ever touch memory listed here, never V8's
// own buffers. `slots`: each file's place in the mapping (offset, length),
// whole pages (mmapShared) or 2 MiB-aligned (mmapSharedFiles): what
// guardMapping replaces when that file is cut under us.
struct Mapping {
  size_t length;
  std::vector<std::pair<size_t, size_t>> slots;
};
std::mutex gMapsMutex;
std::unordered_map<void*, Mapping> gMaps;

void Unmap(void* data, size_t length, void* /*deleter_data*/) {
  // May run on any thread, once the last SharedArrayBuffer (in any isolate) using it is gone.
  {
    std::lock_guard<std::mutex> lock(gMapsMutex);
    gMaps.erase(data);
  }
  munmap(data, length);
}

// Release the file's pages now, keep the buffer valid: the range is replaced
// in place by private anonymous zero pages (MAP_FIXED), so any thread still
// reading it sees zeros instead of faulting, and the peer's memory is freed
// without waiting for garbage collection; the address range itself goes when
// the buffer is collected.
void UnmapShared(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  if (!args[0]->IsSharedArrayBuffer()) return ThrowType(a->isolate, "unmapShared: expected a SharedArrayBuffer from mmapShared");
  Local<SharedArrayBuffer> sab = args[0].As<SharedArrayBuffer>();
  void* p = sab->Data();
  size_t len = sab->ByteLength();
  std::lock_guard<std::mutex> lock(gMapsMutex);
  auto it = gMaps.find(p);
  if (it == gMaps.end() || it->second.length != len) {
    return ThrowType(a->isolate, "unmapShared: expected a SharedArrayBuffer from mmapShared");
  }
  void* q = mmap(p, len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (q == MAP_FAILED) return ThrowErrno(a, "mmap(MAP_FIXED)", "unmapShared", errno);
}

void MmapShared(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  int fd;
  double length, offset;
  if (!ArgFd(args, 0, "mmapShared", &fd)) return;
  if (!ArgSize(args, 1, "mmapShared", "length", kMaxSafeInt, &length)) return;
  if (!ArgSize(args, 2, "mmapShared", "offset", kMaxSafeInt, &offset)) return;
  bool populate;
  if (!OptBool(args, 3, "mmapShared", "populate", false, &populate)) return;
  if (length == 0) return ThrowErrno(a, "mmap", std::to_string(fd), EINVAL);
  // A page of a mapping past the end of its file is SIGBUS on first touch,
  // which kills Node: refuse such a mapping of a regular file (memfd,
  // hugetlbfs) up front, e.g. a peer's memory region whose size is a lie.
  struct stat st;
  if (fstat(fd, &st) != 0) return ThrowErrno(a, "mmap", std::to_string(fd), errno);
  if (S_ISREG(st.st_mode) && offset + length > static_cast<double>(st.st_size)) {
    return ThrowErrno(a, "mmap", std::to_string(fd) + ", offset " + std::to_string(static_cast<uint64_t>(offset)) + " + length " +
                                     std::to_string(static_cast<uint64_t>(length)) + " > file size " + std::to_string(st.st_size),
                      EINVAL);
  }
  void* p = mmap(nullptr, static_cast<size_t>(length), PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return ThrowErrno(a, "mmap", std::to_string(fd), errno);
  if (populate) {
    // Fault every page in now, so a page the system cannot supply (hugetlb
    // pages gone, a cgroup limit) is an error here instead of SIGBUS on first
    // touch. Kernels before 5.14 do not know the advice (EINVAL): skip it there.
    if (madvise(p, static_cast<size_t>(length), kMadvPopulateWrite) != 0 && errno != EINVAL) {
      int err = errno;
      munmap(p, static_cast<size_t>(length));
      return ThrowErrno(a, "madvise(MADV_POPULATE_WRITE)", std::to_string(fd), err);
    }
  }
  {
    std::lock_guard<std::mutex> lock(gMapsMutex);
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t len = static_cast<size_t>(length);
    gMaps[p] = Mapping{len, {{0, (len + page - 1) / page * page}}};
  }
  std::shared_ptr<v8::BackingStore> store =
      SharedArrayBuffer::NewBackingStore(p, static_cast<size_t>(length), Unmap, nullptr);
  args.GetReturnValue().Set(SharedArrayBuffer::New(a->isolate, std::move(store)));
}

void FileSize(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  int fd;
  if (!ArgFd(args, 0, "fileSize", &fd)) return;
  struct stat st;
  if (fstat(fd, &st) != 0) return ThrowErrno(a, "fstat", std::to_string(fd), errno);
  args.GetReturnValue().Set(static_cast<double>(st.st_size));
}

void GetSeals(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  int fd;
  if (!ArgFd(args, 0, "getSeals", &fd)) return;
  int r = fcntl(fd, F_GET_SEALS);
  if (r < 0) {
    if (errno == EINVAL) return args.GetReturnValue().Set(0);  // not a sealable file
    return ThrowErrno(a, "fcntl(F_GET_SEALS)", std::to_string(fd), errno);
  }
  args.GetReturnValue().Set(r);
}

void AddSeals(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  int fd, seals;
  if (!ArgFd(args, 0, "addSeals", &fd)) return;
  if (!ArgInt(args, 1, "addSeals", "seals", &seals)) return;
  if (fcntl(fd, F_ADD_SEALS, seals) != 0) return ThrowErrno(a, "fcntl(F_ADD_SEALS)", std::to_string(fd), errno);
}

void Close(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  int fd;
  if (!ArgFd(args, 0, "close", &fd)) return;
  // Linux releases the fd even when close() reports EINTR: never retry.
  if (close(fd) != 0 && errno != EINTR) return ThrowErrno(a, "close", std::to_string(fd), errno);
}

// ---------------------------------------------------------------- eventfd

void Eventfd(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  double init;
  bool nonblock, semaphore;
  if (!ArgSize(args, 0, "eventfd", "initval", 4294967295.0, &init)) return;
  if (!OptBool(args, 1, "eventfd", "nonblock", true, &nonblock)) return;
  if (!OptBool(args, 1, "eventfd", "semaphore", false, &semaphore)) return;
  int flags = EFD_CLOEXEC | (nonblock ? EFD_NONBLOCK : 0) | (semaphore ? EFD_SEMAPHORE : 0);
  int fd = eventfd(static_cast<unsigned>(init), flags);
  if (fd < 0) return ThrowErrno(a, "eventfd", std::to_string(static_cast<unsigned>(init)), errno);
  args.GetReturnValue().Set(fd);
}

// Pin the calling thread to one CPU: sched_setaffinity on thread id 0 (the caller), as
// rte_thread_set_affinity does. EAL's pin.ts used to run `taskset -pc CPU TID`, a fork of
// the whole process: every private page of EAL memory then became copy-on-write, and the
// next write to each one took a page fault (in a VM, ~10 us a page: 1 GB of mbufs, half a
// second of a lcore's first traffic). Throws EINVAL for a CPU this process may not use.
void SetThreadAffinity(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  int cpu;
  if (!ArgInt(args, 0, "setThreadAffinity", "cpu", &cpu)) return;
  if (cpu < 0 || cpu >= CPU_SETSIZE) return ThrowErrno(a, "sched_setaffinity", std::to_string(cpu), EINVAL);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) return ThrowErrno(a, "sched_setaffinity", std::to_string(cpu), errno);
}

void EventfdWrite(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  int fd;
  double value = 1;
  if (!ArgFd(args, 0, "eventfdWrite", &fd)) return;
  if (args.Length() > 1 && !args[1]->IsUndefined() && !ArgSize(args, 1, "eventfdWrite", "value", kMaxSafeInt, &value)) return;
  uint64_t v = static_cast<uint64_t>(value);
  for (;;) {
    ssize_t n = write(fd, &v, sizeof v);
    if (n == sizeof v) return args.GetReturnValue().Set(true);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return args.GetReturnValue().Set(false);
    return ThrowErrno(a, "write", std::to_string(fd), n < 0 ? errno : EIO);
  }
}

// The data path's kick (virtio-pmd queue-base.ts kick(), on an lcore): one 8-byte
// write of `value` (an unsigned 32-bit integer) to the kick eventfd, as DPDK's
// virtio-user writes its kickfd from the data-path thread. It never throws and
// allocates nothing (an exception or a boxed number in the lcore's burst would
// be both): it returns 0, or the errno (EBADF for an fd that is not an integer,
// EINVAL for a bad value, EAGAIN when the counter is full). The caller keeps
// the fd open while it calls (see vhost-user transport.ts kick fd words).
void EventfdKick(const FunctionCallbackInfo<Value>& args) {
  if (!args[0]->IsInt32()) return args.GetReturnValue().Set(EBADF);
  if (!args[1]->IsUint32()) return args.GetReturnValue().Set(EINVAL);
  int fd = args[0].As<v8::Int32>()->Value();
  uint64_t v = args[1].As<v8::Uint32>()->Value();
  for (;;) {
    ssize_t n = write(fd, &v, sizeof v);
    if (n == sizeof v) return args.GetReturnValue().Set(0);
    if (n < 0 && errno == EINTR) continue;
    return args.GetReturnValue().Set(n < 0 ? (errno == EWOULDBLOCK ? EAGAIN : errno) : EIO);
  }
}

void EventfdRead(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  int fd;
  if (!ArgFd(args, 0, "eventfdRead", &fd)) return;
  uint64_t v = 0;
  for (;;) {
    ssize_t n = read(fd, &v, sizeof v);
    if (n == sizeof v) return args.GetReturnValue().Set(static_cast<double>(v));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return args.GetReturnValue().Set(0);
    return ThrowErrno(a, "read", std::to_string(fd), n < 0 ? errno : EIO);
  }
}

// ---------------------------------------------------------------- unix sockets

void UnixListen(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  std::string path;
  int backlog = 16;
  if (!ArgString(args, 0, "unixListen", "path", &path)) return;
  if (args.Length() > 1 && !args[1]->IsUndefined() && !ArgInt(args, 1, "unixListen", "backlog", &backlog)) return;
  sockaddr_un sa;
  if (!FillSockaddr(args, a, "unixListen", path, &sa)) return;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(a, "socket", path, errno);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(a, "bind", path, err);
  }
  if (listen(fd, backlog) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(a, "listen", path, err);
  }
  args.GetReturnValue().Set(fd);
}

void UnixConnect(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  std::string path;
  int timeoutMs = 5000;
  if (!ArgString(args, 0, "unixConnect", "path", &path)) return;
  if (args.Length() > 1 && !args[1]->IsUndefined() && !ArgInt(args, 1, "unixConnect", "timeoutMs", &timeoutMs)) return;
  if (timeoutMs < 1) timeoutMs = 1;
  sockaddr_un sa;
  if (!FillSockaddr(args, a, "unixConnect", path, &sa)) return;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(a, "socket", path, errno);
  // A blocking AF_UNIX connect sleeps while the listener's backlog is full
  // (a back-end that never accepts); the kernel bounds that sleep by
  // SO_SNDTIMEO and then fails with EAGAIN, so the main thread never hangs.
  timeval tv = {timeoutMs / 1000, (timeoutMs % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int r = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int err = r == 0 ? 0 : errno;
  if (err == EINTR || err == EINPROGRESS) {
    // Interrupted by a signal: the connection completes in the background.
    int rev = PollOne(fd, POLLOUT, timeoutMs);
    socklen_t len = sizeof err;
    if (rev <= 0) err = rev == 0 ? ETIMEDOUT : errno;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  }
  if (err != 0) {
    close(fd);
    return ThrowErrno(a, "connect", path, err);
  }
  timeval zero = {0, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(a, "fcntl(O_NONBLOCK)", path, e);
  }
  args.GetReturnValue().Set(fd);
}

void UnixAccept(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  int lfd;
  if (!ArgFd(args, 0, "unixAccept", &lfd)) return;
  for (;;) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return args.GetReturnValue().Set(fd);
    if (errno == EINTR || errno == ECONNABORTED) continue;  // a peer that gave up: take the next one
    if (errno == EAGAIN || errno == EWOULDBLOCK) return args.GetReturnValue().Set(-1);
    return ThrowErrno(a, "accept4", std::to_string(lfd), errno);
  }
}

void SendMsg(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  Isolate* iso = a->isolate;
  int fd;
  char* data;
  size_t len;
  if (!ArgFd(args, 0, "sendMsg", &fd)) return;
  if (!ArgBytes(args, 1, "sendMsg", &data, &len)) return;
  int fds[kMaxSendFds];
  int nfds = 0;
  if (args.Length() > 2 && !args[2]->IsUndefined()) {
    if (!args[2]->IsArray()) return ThrowType(iso, "sendMsg: fds must be an array of integers");
    Local<Array> arr = args[2].As<Array>();
    if (arr->Length() > kMaxSendFds) return ThrowRange(iso, "sendMsg: at most 16 fds per message");
    Local<Context> ctx = iso->GetCurrentContext();
    for (uint32_t i = 0; i < arr->Length(); i++) {
      Local<Value> v;
      if (!arr->Get(ctx, i).ToLocal(&v)) return;
      if (!v->IsInt32() || v.As<v8::Int32>()->Value() < 0) return ThrowType(iso, "sendMsg: fds must be an array of integers >= 0");
      fds[nfds++] = v.As<v8::Int32>()->Value();
    }
  }
  if (len == 0 && nfds > 0) return ThrowRange(iso, "sendMsg: fds need at least one data byte to travel with");
  iovec iov = {data, len};
  msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxSendFds)];
  if (nfds > 0) {
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    memset(cbuf, 0, msg.msg_controllen);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  for (;;) {
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return args.GetReturnValue().Set(static_cast<double>(n));
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return args.GetReturnValue().Set(-1);
    return ThrowErrno(a, "sendmsg", std::to_string(fd), errno);
  }
}

void RecvMsg(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  Isolate* iso = a->isolate;
  int fd;
  char* data;
  size_t len;
  int maxFds = kMaxSendFds;
  if (!ArgFd(args, 0, "recvMsg", &fd)) return;
  if (!ArgBytes(args, 1, "recvMsg", &data, &len)) return;
  if (args.Length() > 2 && !args[2]->IsUndefined()) {
    if (!ArgInt(args, 2, "recvMsg", "maxFds", &maxFds)) return;
    if (maxFds < 0) return ThrowRange(iso, "recvMsg: maxFds must be >= 0");
  }
  iovec iov = {data, len};
  msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // Big enough for SCM_MAX_FD descriptors: whatever the peer sends lands here
  // and what the caller did not ask for is closed, never leaked.
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxRecvFds)];
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  for (;;) {
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return ThrowErrno(a, "recvmsg", std::to_string(fd), errno);
  }
  Local<Context> ctx = iso->GetCurrentContext();
  Local<Array> out = Array::New(iso);
  bool truncated = n >= 0 && (msg.msg_flags & MSG_CTRUNC) != 0;
  uint32_t kept = 0;
  if (n >= 0) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const unsigned char* p = CMSG_DATA(c);
      for (size_t i = 0; i < count; i++) {
        int rfd;
        memcpy(&rfd, p + i * sizeof(int), sizeof rfd);
        if (static_cast<int>(kept) < maxFds) {
          out->Set(ctx, kept++, Integer::New(iso, rfd)).Check();
        } else {
          close(rfd);
          truncated = true;
        }
      }
    }
  }
  Local<Object> res = Object::New(iso);
  res->Set(ctx, Str(iso, "bytes"), Number::New(iso, n >= 0 ? static_cast<double>(n) : -1)).Check();
  res->Set(ctx, Str(iso, "fds"), out).Check();
  res->Set(ctx, Str(iso, "truncated"), v8::Boolean::New(iso, truncated)).Check();
  args.GetReturnValue().Set(res);
}

void Shutdown(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  int fd;
  if (!ArgFd(args, 0, "shutdown", &fd)) return;
  // ENOTCONN: already down (the peer went away first); shutdown is idempotent.
  if (shutdown(fd, SHUT_RDWR) != 0 && errno != ENOTCONN) return ThrowErrno(a, "shutdown", std::to_string(fd), errno);
}

// ---------------------------------------------------------------- readiness

void Poll(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  int fd, events, timeoutMs;
  if (!ArgFd(args, 0, "poll", &fd)) return;
  if (!ArgInt(args, 1, "poll", "events", &events)) return;
  if (!ArgInt(args, 2, "poll", "timeoutMs", &timeoutMs)) return;
  int r = PollOne(fd, events, timeoutMs < 0 ? -1 : timeoutMs);
  if (r < 0) return ThrowErrno(a, "poll", std::to_string(fd), errno);
  args.GetReturnValue().Set(r);
}

// A libuv poll handle on the calling environment's loop. Owned by the handle:
// freed in its close callback. The JavaScript side holds only the id, so a
// stop() after the handle is gone finds nothing and does nothing.
struct WatchCleanupArg {
  Addon* addon;
  uint32_t id;
};

struct Watch {
  uv_poll_t handle;
  Isolate* isolate;
  Global<Context> context;  // the context watch() was called in; callbacks run there
  Global<Function> callback;
  node::AsyncCleanupHookHandle cleanupHook;
  WatchCleanupArg* cleanupHookArg = nullptr;  // owned by the hook until it runs or is removed
  void (*cleanupDone)(void*) = nullptr;
  void* cleanupArg = nullptr;
};

void WatchClosed(uv_handle_t* h) {
  Watch* w = static_cast<Watch*>(h->data);
  void (*done)(void*) = w->cleanupDone;
  void* arg = w->cleanupArg;
  delete w;
  if (done != nullptr) done(arg);
}

// Stop and close; the callback is released at once (the isolate is alive here).
void WatchClose(Watch* w) {
  uv_poll_stop(&w->handle);
  w->callback.Reset();
  w->context.Reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&w->handle), WatchClosed);
}

int ToUvEvents(int ev) {
  return ((ev & POLLIN) ? UV_READABLE : 0) | ((ev & POLLOUT) ? UV_WRITABLE : 0) |
         ((ev & (POLLHUP | POLLRDHUP)) ? UV_DISCONNECT : 0) | ((ev & POLLPRI) ? UV_PRIORITIZED : 0);
}

int FromUvEvents(int ev) {
  return ((ev & UV_READABLE) ? POLLIN : 0) | ((ev & UV_WRITABLE) ? POLLOUT : 0) |
         ((ev & UV_DISCONNECT) ? POLLHUP : 0) | ((ev & UV_PRIORITIZED) ? POLLPRI : 0);
}

void WatchFired(uv_poll_t* h, int status, int events) {
  Watch* w = static_cast<Watch*>(h->data);
  if (w->callback.IsEmpty()) return;
  Isolate* iso = w->isolate;
  HandleScope hs(iso);
  Local<Function> fn = w->callback.Get(iso);
  Local<Context> ctx = w->context.Get(iso);
  Context::Scope cs(ctx);
  Local<Value> argv[2] = {Integer::New(iso, status < 0 ? 0 : FromUvEvents(events)), Integer::New(iso, status)};
  // MakeCallback runs microtasks afterwards and reports a throw as an uncaught exception.
  (void)node::MakeCallback(iso, ctx->Global(), fn, 2, argv, node::async_context{0, 0});
}

// The environment is going away (worker exit, process exit) with the watch
// still running: close the handle and tell Node when it is closed.
void WatchEnvCleanup(void* arg, void (*done)(void*), void* doneArg) {
  std::unique_ptr<WatchCleanupArg> c(static_cast<WatchCleanupArg*>(arg));
  auto it = c->addon->watches.find(c->id);
  if (it == c->addon->watches.end()) return done(doneArg);
  Watch* w = it->second;
  c->addon->watches.erase(it);
  w->cleanupDone = done;
  w->cleanupArg = doneArg;
  WatchClose(w);
}

void WatchStop(const FunctionCallbackInfo<Value>& args) {
  // The stop function's data: [External(addon), id] (see WatchFd).
  Local<Context> ctx = args.GetIsolate()->GetCurrentContext();
  Local<v8::Array> data = args.Data().As<v8::Array>();
  Addon* a = static_cast<Addon*>(ExternalValue(data->Get(ctx, 0).ToLocalChecked()));
  uint32_t id = data->Get(ctx, 1).ToLocalChecked().As<v8::Uint32>()->Value();
  auto it = a->watches.find(id);
  if (it == a->watches.end()) return;  // idempotent
  Watch* w = it->second;
  a->watches.erase(it);
  node::RemoveEnvironmentCleanupHook(std::move(w->cleanupHook));
  delete w->cleanupHookArg;
  WatchClose(w);
}

void WatchFd(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  Isolate* iso = a->isolate;
  int fd, events;
  if (!ArgFd(args, 0, "watch", &fd)) return;
  if (!ArgInt(args, 1, "watch", "events", &events)) return;
  if (!args[2]->IsFunction()) return ThrowType(iso, "watch: callback must be a function");
  int uvEvents = ToUvEvents(events);
  if (uvEvents == 0) return ThrowType(iso, "watch: events must include POLLIN, POLLOUT, POLLHUP or POLLPRI");
  uv_loop_t* loop = node::GetCurrentEventLoop(iso);
  if (loop == nullptr) return ThrowErrno(a, "uv_poll_init", std::to_string(fd), ENODEV);
  Watch* w = new Watch();
  w->isolate = iso;
  w->handle.data = w;
  int r = uv_poll_init(loop, &w->handle, fd);  // EEXIST: this loop already watches fd
  if (r != 0) {
    delete w;
    return ThrowErrno(a, "uv_poll_init", std::to_string(fd), -r);
  }
  r = uv_poll_start(&w->handle, uvEvents, WatchFired);
  if (r != 0) {
    w->cleanupDone = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&w->handle), WatchClosed);
    return ThrowErrno(a, "uv_poll_start", std::to_string(fd), -r);
  }
  w->callback.Reset(iso, args[2].As<Function>());
  w->context.Reset(iso, iso->GetCurrentContext());
  uint32_t id = a->nextWatchId++;
  a->watches[id] = w;
  w->cleanupHookArg = new WatchCleanupArg{a, id};
  w->cleanupHook = node::AddEnvironmentCleanupHook(iso, WatchEnvCleanup, w->cleanupHookArg);

  // { stop() }: the stop function carries [External(addon), id] as its data (an array, not
  // aligned-pointer internal fields, whose signature V8 14 (Node 26) changed; Node 20-26 share this).
  Local<Context> ctx = iso->GetCurrentContext();
  Local<Value> dataElems[2] = {NewExternal(iso, a), Integer::NewFromUnsigned(iso, id)};
  Local<v8::Array> data = v8::Array::New(iso, dataElems, 2);
  Local<Function> stop = Function::New(ctx, WatchStop, data).ToLocalChecked();
  Local<Object> res = Object::New(iso);
  res->Set(ctx, Str(iso, "stop"), stop).Check();
  args.GetReturnValue().Set(res);
}

// ---------------------------------------------------------------- SIGBUS guard
//
// A front-end's memory file that is not sealed against shrinking (DPDK's
// virtio_user does not seal) can be cut by its owner while an lcore has it
// mapped; the lcore's next touch past the new end is SIGBUS, whose default
// action kills the whole process (every port). guardMapping registers the
// file slots of a mapping (mmapShared / mmapSharedFiles) in a fixed-size,
// process-wide registry; one SIGBUS handler (installed at the first
// registration) answers a fault inside a registered slot by mapping private
// anonymous zero pages over the whole slot (MAP_FIXED: 2 MiB slots for
// several files, so a hugetlb file is replaced at huge-page granularity),
// adding 1 to the registration's fault word and writing 1 to the eventfd
// whose number its fd word holds, then returning: the faulting load or store
// runs again on the zero page. A fault in no registered slot (or a SIGBUS
// sent by kill) is not ours: the previous handler runs, or the previous
// action is restored so the fault repeats and ends the process as before.
//
// The handler uses only atomics, mmap, write, sigaction and raise. Writers
// (register, unregister: cold, under gGuardMutex) bump a slot's sequence
// number to odd, write it, and bump it back to even; the handler skips a
// slot whose number is odd or moved while it read it (seqlock). A slot's
// memory and words stay valid while it is registered: the registration
// holds both buffers' backing stores until unguardMapping (or the cleanup of
// the environment that registered it).

constexpr int kMaxGuardSlots = 1024;  // file slots (a ring's table has at most 8 files)

struct GuardSlot {
  std::atomic<uint32_t> seq{0};
  std::atomic<uint32_t> id{0};  // 0: free
  std::atomic<uintptr_t> start{0};
  std::atomic<uintptr_t> len{0};
  std::atomic<int32_t*> faultWord{nullptr};
  std::atomic<int32_t*> fdWord{nullptr};
};

GuardSlot gGuards[kMaxGuardSlots];
std::atomic<uint64_t> gGuardedFaults{0};  // SIGBUS faults the handler answered (process-wide)
std::mutex gGuardMutex;
uint32_t gNextGuardId = 1;  // under gGuardMutex
struct GuardHold {
  std::shared_ptr<v8::BackingStore> mapping;
  std::shared_ptr<v8::BackingStore> words;
};
std::unordered_map<uint32_t, GuardHold> gGuardHolds;  // under gGuardMutex
struct sigaction gPrevSigbus;
bool gSigbusInstalled = false;  // under gGuardMutex

void OnSigbus(int sig, siginfo_t* si, void* uc) {
  int savedErrno = errno;
  bool handled = false;
  // si_code > 0: raised by the kernel for a fault (BUS_ADRERR past a file's end), not sent by kill/sigqueue.
  if (si != nullptr && si->si_code > 0) {
    uintptr_t addr = reinterpret_cast<uintptr_t>(si->si_addr);
    uintptr_t doneStart = 0, doneLen = 0;
    for (int k = 0; k < kMaxGuardSlots; k++) {
      GuardSlot& g = gGuards[k];
      uint32_t s = g.seq.load();
      if ((s & 1) != 0 || g.id.load() == 0) continue;
      uintptr_t start = g.start.load(), len = g.len.load();
      int32_t* faultWord = g.faultWord.load();
      int32_t* fdWord = g.fdWord.load();
      if (g.seq.load() != s || g.id.load() == 0) continue;
      if (addr < start || addr - start >= len) continue;
      // Several registrations (rings sharing one mapping) name the same slot: it is replaced once.
      if (start != doneStart || len != doneLen) {
        void* q = mmap(reinterpret_cast<void*>(start), len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (q == MAP_FAILED) continue;
        doneStart = start;
        doneLen = len;
      }
      __atomic_fetch_add(faultWord, 1, __ATOMIC_SEQ_CST);
      int fd = __atomic_load_n(fdWord, __ATOMIC_SEQ_CST);
      if (fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(fd, &one, sizeof one);  // non-blocking eventfd of the port's; a full counter needs no second wake-up
        (void)w;
      }
      handled = true;
    }
  }
  if (handled) {
    gGuardedFaults.fetch_add(1);
    errno = savedErrno;
    return;
  }
  // Not ours: chain to what was there before.
  if ((gPrevSigbus.sa_flags & SA_SIGINFO) != 0 && gPrevSigbus.sa_sigaction != nullptr) {
    gPrevSigbus.sa_sigaction(sig, si, uc);
  } else if ((gPrevSigbus.sa_flags & SA_SIGINFO) == 0 && gPrevSigbus.sa_handler != SIG_DFL && gPrevSigbus.sa_handler != SIG_IGN) {
    gPrevSigbus.sa_handler(sig);
  } else {
    // The default action (or ignore): restore it; a fault repeats when we return and ends the
    // process as it would have without us; a SIGBUS sent by kill is raised again (delivered on return).
    sigaction(SIGBUS, &gPrevSigbus, nullptr);
    if ((si == nullptr || si->si_code <= 0) && gPrevSigbus.sa_handler == SIG_DFL) raise(SIGBUS);
  }
  errno = savedErrno;
}

// Under gGuardMutex.
void GuardReleaseLocked(uint32_t id) {
  for (int k = 0; k < kMaxGuardSlots; k++) {
    GuardSlot& g = gGuards[k];
    if (g.id.load() != id) continue;
    g.seq.fetch_add(1);
    g.id.store(0);
    g.seq.fetch_add(1);
  }
  gGuardHolds.erase(id);
}

// guardMapping(sab, words, faultIndex, fdIndex) -> id
void GuardMapping(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  Isolate* iso = a->isolate;
  const char* usage = "guardMapping: expected (sab from mmapShared or mmapSharedFiles, words: Int32Array over a SharedArrayBuffer, faultIndex, fdIndex)";
  if (args.Length() < 4 || !args[0]->IsSharedArrayBuffer() || !args[1]->IsInt32Array() || !args[2]->IsInt32() || !args[3]->IsInt32()) {
    return ThrowType(iso, usage);
  }
  Local<SharedArrayBuffer> sab = args[0].As<SharedArrayBuffer>();
  Local<v8::Int32Array> words = args[1].As<v8::Int32Array>();
  if (!words->Buffer()->IsSharedArrayBuffer()) return ThrowType(iso, "guardMapping: words must be an Int32Array over a SharedArrayBuffer");
  int faultIndex = args[2].As<v8::Int32>()->Value(), fdIndex = args[3].As<v8::Int32>()->Value();
  int nWords = static_cast<int>(words->Length());
  if (faultIndex < 0 || faultIndex >= nWords || fdIndex < 0 || fdIndex >= nWords) return ThrowRange(iso, "guardMapping: faultIndex and fdIndex must index words");
  char* base = static_cast<char*>(sab->Data());
  // The file slots the mapping was made with (gMaps): one per file.
  std::vector<std::pair<size_t, size_t>> slots;
  {
    std::lock_guard<std::mutex> lock(gMapsMutex);
    auto it = gMaps.find(base);
    if (it == gMaps.end() || it->second.length != sab->ByteLength()) return ThrowType(iso, "guardMapping: expected a SharedArrayBuffer from mmapShared or mmapSharedFiles");
    slots = it->second.slots;
  }
  size_t n = slots.size();
  int32_t* wordBase = reinterpret_cast<int32_t*>(static_cast<char*>(words->Buffer()->Data()) + words->ByteOffset());
  std::lock_guard<std::mutex> lock(gGuardMutex);
  if (!gSigbusInstalled) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &gPrevSigbus) != 0) return ThrowErrno(a, "sigaction", "SIGBUS", errno);
    gSigbusInstalled = true;
  }
  std::vector<int> freeSlots;
  for (int k = 0; k < kMaxGuardSlots && freeSlots.size() < n; k++) {
    if (gGuards[k].id.load() == 0) freeSlots.push_back(k);
  }
  if (freeSlots.size() < n) return ThrowErrno(a, "guardMapping", std::to_string(kMaxGuardSlots) + " file slots guarded already", ENOSPC);
  uint32_t id = gNextGuardId++;
  if (gNextGuardId == 0) gNextGuardId = 1;
  gGuardHolds[id] = GuardHold{sab->GetBackingStore(), words->Buffer().As<Value>().As<SharedArrayBuffer>()->GetBackingStore()};
  for (uint32_t i = 0; i < n; i++) {
    GuardSlot& g = gGuards[freeSlots[i]];
    g.seq.fetch_add(1);
    g.start.store(reinterpret_cast<uintptr_t>(base) + slots[i].first);
    g.len.store(slots[i].second);
    g.faultWord.store(wordBase + faultIndex);
    g.fdWord.store(wordBase + fdIndex);
    g.id.store(id);
    g.seq.fetch_add(1);
  }
  a->guards.push_back(id);
  args.GetReturnValue().Set(static_cast<double>(id));
}

void UnguardMapping(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  if (!args[0]->IsUint32()) return ThrowType(a->isolate, "unguardMapping: expected an id from guardMapping");
  uint32_t id = args[0].As<v8::Uint32>()->Value();
  std::lock_guard<std::mutex> lock(gGuardMutex);
  for (size_t i = 0; i < a->guards.size(); i++) {
    if (a->guards[i] != id) continue;
    a->guards[i] = a->guards.back();
    a->guards.pop_back();
    GuardReleaseLocked(id);
    return;
  }
  // Unknown (or another environment's, or released already): nothing to do.
}

void GuardedFaults(const FunctionCallbackInfo<Value>& args) {
  args.GetReturnValue().Set(static_cast<double>(gGuardedFaults.load()));
}

// ---------------------------------------------------------------- registration

void SetErrorClass(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  if (!args[0]->IsFunction()) return ThrowType(a->isolate, "_setErrorClass: expected a constructor");
  a->errorCtor.Reset(a->isolate, args[0].As<Function>());
}

void AddonCleanup(void* arg) {
  Addon* a = static_cast<Addon*>(arg);
  // Watches still open have their own (earlier-run) async hooks; drop what is left.
  a->errorCtor.Reset();
  {
    // Guards this environment left registered (an lcore thread that ended with a table mapped).
    std::lock_guard<std::mutex> lock(gGuardMutex);
    for (uint32_t id : a->guards) GuardReleaseLocked(id);
  }
  delete a;
}

void SetMethod(Local<Context> ctx, Local<Object> exports, Addon* a, const char* name, v8::FunctionCallback fn) {
  Isolate* iso = a->isolate;
  Local<FunctionTemplate> t = FunctionTemplate::New(iso, fn, NewExternal(iso, a));
  Local<Function> f = t->GetFunction(ctx).ToLocalChecked();
  f->SetName(Str(iso, name));
  exports->Set(ctx, Str(iso, name), f).Check();
}

void SetConst(Local<Context> ctx, Local<Object> exports, const char* name, int value) {
  Isolate* iso = Isolate::GetCurrent();  // not ctx->GetIsolate(): gone in V8 14 (Node 26)
  exports->DefineOwnProperty(ctx, Str(iso, name), Integer::New(iso, value),
                             static_cast<PropertyAttribute>(v8::ReadOnly | v8::DontDelete)).Check();
}

// Several files side by side in one SharedArrayBuffer (a vhost-user memory
// table whose regions come from different files, as QEMU with several memory
// backends or DPDK with hugepages sends): a reservation of the whole range
// (PROT_NONE), then each file from offset 0 at its place with MAP_FIXED.
// File i starts at the sum of the earlier lengths, each rounded up to 2 MiB
// (so a hugetlbfs file lands on a huge-page boundary); the reservation is
// 2 MiB-aligned. Each length must fit its file (no page past the end: SIGBUS).
// Released by unmapShared and the collector's deleter like mmapShared's.
void MmapSharedFiles(const FunctionCallbackInfo<Value>& args) {
  Addon* a = GetAddon(args);
  Isolate* iso = a->isolate;
  Local<Context> ctx = iso->GetCurrentContext();
  if (args.Length() < 2 || !args[0]->IsArray() || !args[1]->IsArray()) return ThrowType(iso, "mmapSharedFiles: expected (fds: number[], lengths: number[])");
  Local<v8::Array> fdsA = args[0].As<v8::Array>();
  Local<v8::Array> lensA = args[1].As<v8::Array>();
  uint32_t n = fdsA->Length();
  if (n == 0 || n > 64 || lensA->Length() != n) return ThrowType(iso, "mmapSharedFiles: 1..64 fds, one length each");
  const size_t kAlign = 2u << 20;
  std::vector<int> fds(n);
  std::vector<size_t> lens(n), bases(n);
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    Local<Value> fv, lv;
    if (!fdsA->Get(ctx, i).ToLocal(&fv) || !lensA->Get(ctx, i).ToLocal(&lv) || !fv->IsNumber() || !lv->IsNumber()) return ThrowType(iso, "mmapSharedFiles: fds and lengths must be numbers");
    double fd = fv.As<v8::Number>()->Value(), len = lv.As<v8::Number>()->Value();
    if (fd < 0 || fd > 2147483647.0 || fd != static_cast<double>(static_cast<int>(fd))) return ThrowType(iso, "mmapSharedFiles: bad fd");
    if (len <= 0 || len > kMaxSafeInt || len != static_cast<double>(static_cast<uint64_t>(len))) return ThrowType(iso, "mmapSharedFiles: bad length");
    fds[i] = static_cast<int>(fd);
    lens[i] = static_cast<size_t>(len);
    struct stat st;
    if (fstat(fds[i], &st) != 0) return ThrowErrno(a, "mmap", std::to_string(fds[i]), errno);
    if (S_ISREG(st.st_mode) && len > static_cast<double>(st.st_size)) {
      return ThrowErrno(a, "mmap", std::to_string(fds[i]) + ", length " + std::to_string(lens[i]) + " > file size " + std::to_string(st.st_size), EINVAL);
    }
    bases[i] = total;
    total += (lens[i] + kAlign - 1) / kAlign * kAlign;
  }
  // Reserve with room to align the start to 2 MiB, then trim the slack.
  void* r = mmap(nullptr, total + kAlign, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) return ThrowErrno(a, "mmap(reserve)", "mmapSharedFiles", errno);
  uintptr_t start = (reinterpret_cast<uintptr_t>(r) + kAlign - 1) & ~(static_cast<uintptr_t>(kAlign) - 1);
  size_t head = start - reinterpret_cast<uintptr_t>(r);
  if (head != 0) munmap(r, head);
  if (kAlign - head != 0) munmap(reinterpret_cast<char*>(start) + total, kAlign - head);
  char* base = reinterpret_cast<char*>(start);
  for (uint32_t i = 0; i < n; i++) {
    void* q = mmap(base + bases[i], lens[i], PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fds[i], 0);
    if (q == MAP_FAILED) {
      int err = errno;
      munmap(base, total);
      return ThrowErrno(a, "mmap(MAP_FIXED)", std::to_string(fds[i]), err);
    }
  }
  {
    std::lock_guard<std::mutex> lock(gMapsMutex);
    Mapping m{total, {}};
    for (uint32_t i = 0; i < n; i++) m.slots.emplace_back(bases[i], (lens[i] + kAlign - 1) / kAlign * kAlign);
    gMaps[base] = std::move(m);
  }
  std::shared_ptr<v8::BackingStore> store = SharedArrayBuffer::NewBackingStore(base, total, Unmap, nullptr);
  args.GetReturnValue().Set(SharedArrayBuffer::New(iso, std::move(store)));
}

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  // Isolate::GetCurrent(), not context->GetIsolate() (gone in V8 14, Node 26): Node calls this with
  // the environment's isolate entered, in the main thread and in each worker.
  Isolate* iso = Isolate::GetCurrent();
  Addon* a = new Addon();
  a->isolate = iso;
  node::AddEnvironmentCleanupHook(iso, AddonCleanup, a);
  SetMethod(context, exports, a, "memfdCreate", MemfdCreate);
  SetMethod(context, exports, a, "mmapShared", MmapShared);
  SetMethod(context, exports, a, "unmapShared", UnmapShared);
  SetMethod(context, exports, a, "mmapSharedFiles", MmapSharedFiles);
  SetMethod(context, exports, a, "guardMapping", GuardMapping);
  SetMethod(context, exports, a, "unguardMapping", UnguardMapping);
  SetMethod(context, exports, a, "guardedFaults", GuardedFaults);
  SetMethod(context, exports, a, "fileSize", FileSize);
  SetMethod(context, exports, a, "getSeals", GetSeals);
  SetMethod(context, exports, a, "addSeals", AddSeals);
  SetMethod(context, exports, a, "close", Close);
  SetMethod(context, exports, a, "eventfd", Eventfd);
  SetMethod(context, exports, a, "eventfdWrite", EventfdWrite);
  SetMethod(context, exports, a, "eventfdRead", EventfdRead);
  SetMethod(context, exports, a, "eventfdKick", EventfdKick);
  SetMethod(context, exports, a, "setThreadAffinity", SetThreadAffinity);
  SetMethod(context, exports, a, "unixListen", UnixListen);
  SetMethod(context, exports, a, "unixConnect", UnixConnect);
  SetMethod(context, exports, a, "unixAccept", UnixAccept);
  SetMethod(context, exports, a, "sendMsg", SendMsg);
  SetMethod(context, exports, a, "recvMsg", RecvMsg);
  SetMethod(context, exports, a, "poll", Poll);
  SetMethod(context, exports, a, "watch", WatchFd);
  SetMethod(context, exports, a, "shutdown", Shutdown);
  SetMethod(context, exports, a, "_setErrorClass", SetErrorClass);
  SetConst(context, exports, "POLLIN", POLLIN);
  SetConst(context, exports, "POLLOUT", POLLOUT);
  SetConst(context, exports, "POLLHUP", POLLHUP);
  SetConst(context, exports, "POLLERR", POLLERR);
  SetConst(context, exports, "F_SEAL_SEAL", F_SEAL_SEAL);
  SetConst(context, exports, "F_SEAL_SHRINK", F_SEAL_SHRINK);
  SetConst(context, exports, "F_SEAL_GROW", F_SEAL_GROW);
  SetConst(context, exports, "F_SEAL_WRITE", F_SEAL_WRITE);
}
