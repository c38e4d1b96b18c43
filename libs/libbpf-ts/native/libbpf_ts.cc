// N-API binding over the system libbpf (1.x).
//
// Design: the native side owns every libbpf resource in per-environment tables keyed by small
// integer handles (objects, links, ring buffers). JavaScript holds the handles and wraps them in
// typed classes (src/*.ts). Every failure throws an Error carrying `errno` and `op`; the JS side
// turns it into a BpfError with a hint. libbpf's print callback is captured into a buffer that
// JS drains after each call (so the verifier log can be attached to a load error and log lines
// routed to a JS logger). When the environment is torn down (process exit, worker exit) every
// live link, ring buffer and object is destroyed by the instance-data finalizer.

#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------- libbpf log capture

struct LogEntry {
  int level;
  std::string text;
};

std::mutex g_log_mu;
std::vector<LogEntry> g_log;
int g_log_level = LIBBPF_WARN;  // capture at or below this level (WARN=0, INFO=1, DEBUG=2)
const size_t kMaxLogEntries = 20000;

int PrintFn(enum libbpf_print_level level, const char *fmt, va_list args) {
  if ((int)level > g_log_level) return 0;
  char buf[4096];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (n < 0) return 0;
  std::lock_guard<std::mutex> lock(g_log_mu);
  if (g_log.size() >= kMaxLogEntries) g_log.erase(g_log.begin());
  // libbpf emits partial lines (the verifier log arrives as one big chunk); keep chunks whole.
  g_log.push_back({(int)level, std::string(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1)});
  return n;
}

// ---------------------------------------------------------------- per-env state

struct LinkRec {
  bpf_link *link;
  int obj;  // owning object handle
};
struct RingCtx {
  std::vector<std::string> records;
  size_t limit = 0;  // 0 = no limit
  // Arena mode (consumeInto): records are copied back to back into a caller's buffer.
  uint8_t *arena = nullptr;
  size_t arenaLen = 0;
  size_t used = 0;
  uint32_t *spans = nullptr;  // [offset, length] per record
  size_t maxSpans = 0;
  size_t count = 0;
  bool more = false;
  // A record consumed from the ring that did not fit: it goes first next time. libbpf advances
  // the consumer position before calling back, so a record cannot be left in the ring.
  std::string carry;
  bool hasCarry = false;
  // Drainer thread (ringStartDrainer): it moves records from the ring into `staged` every few
  // milliseconds, so that the kernel's ring does not fill while the event loop is busy (a long
  // unwind, a cold symbolization). Every consume of the ring, by the drainer or by JavaScript,
  // holds `mu` (libbpf's consumer is not thread-safe); JavaScript takes the staged records first,
  // so the order is kept. Past `stagedMax` bytes the drainer stops taking: the ring then fills
  // and the programs count what they cannot put there, as without the drainer.
  std::mutex mu;
  std::deque<std::string> staged;
  size_t stagedBytes = 0;
  size_t stagedMax = 0;
  bool toStaging = false;  // the drainer's consume: records go to `staged`
  std::thread drainer;
  std::atomic<bool> stopDrainer{false};
  ~RingCtx() { StopDrainer(); }
  void StopDrainer() {
    if (!drainer.joinable()) return;
    stopDrainer = true;
    drainer.join();
  }
};
struct RingRec {
  ring_buffer *rb;
  RingCtx *ctx;
  int obj;
};

struct State {
  int next = 1;
  std::map<int, bpf_object *> objs;
  std::map<int, LinkRec> links;
  std::map<int, RingRec> rings;

  void DestroyObjChildren(int obj) {
    for (auto it = rings.begin(); it != rings.end();) {
      if (it->second.obj == obj) {
        it->second.ctx->StopDrainer();
        ring_buffer__free(it->second.rb);
        delete it->second.ctx;
        it = rings.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = links.begin(); it != links.end();) {
      if (it->second.obj == obj) {
        bpf_link__destroy(it->second.link);
        it = links.erase(it);
      } else {
        ++it;
      }
    }
  }
  ~State() {
    for (auto &r : rings) {
      r.second.ctx->StopDrainer();
      ring_buffer__free(r.second.rb);
      delete r.second.ctx;
    }
    rings.clear();
    for (auto &l : links) bpf_link__destroy(l.second.link);
    links.clear();
    for (auto &o : objs) bpf_object__close(o.second);
    objs.clear();
  }
};

State *St(const Napi::Env &env) { return env.GetInstanceData<State>(); }

// ---------------------------------------------------------------- errors

Napi::Value Throw(const Napi::Env &env, const std::string &op, int err, const std::string &detail = "") {
  if (err < 0) err = -err;
  if (err == 0) err = EINVAL;
  char ebuf[128];
  libbpf_strerror(err, ebuf, sizeof(ebuf));
  std::string msg = op + ": " + ebuf;
  if (!detail.empty()) msg += " (" + detail + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("op", Napi::String::New(env, op));
  if (!detail.empty()) e.Set("detail", Napi::String::New(env, detail));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowArg(const Napi::Env &env, const std::string &msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

#define REQUIRE_ARGS(n)                                                      \
  if (info.Length() < (n)) return ThrowArg(env, "expected " #n " arguments")

bpf_object *GetObj(const Napi::Env &env, int h) {
  auto &objs = St(env)->objs;
  auto it = objs.find(h);
  return it == objs.end() ? nullptr : it->second;
}

#define OBJ_OR_THROW(var, idx, op)                                           \
  bpf_object *var = GetObj(env, info[idx].As<Napi::Number>().Int32Value()); \
  if (!var) return Throw(env, op, EBADF, "object is closed")

bpf_program *FindProg(bpf_object *obj, const std::string &name) {
  return bpf_object__find_program_by_name(obj, name.c_str());
}

bpf_map *FindMap(bpf_object *obj, const std::string &name) {
  bpf_map *m = bpf_object__find_map_by_name(obj, name.c_str());
  if (m) return m;
  // Allow ".rodata" / ".bss" for the internal maps whose libbpf names are "<obj>.rodata".
  bpf_object__for_each_map(m, obj) {
    const char *n = bpf_map__name(m);
    size_t ln = strlen(n), lq = name.size();
    if (ln >= lq && name[0] == '.' && strcmp(n + ln - lq, name.c_str()) == 0) return m;
  }
  return nullptr;
}

// ---------------------------------------------------------------- log

Napi::Value SetLogLevel(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  g_log_level = info[0].As<Napi::Number>().Int32Value();
  return env.Undefined();
}

Napi::Value TakeLog(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::vector<LogEntry> out;
  {
    std::lock_guard<std::mutex> lock(g_log_mu);
    out.swap(g_log);
  }
  Napi::Array arr = Napi::Array::New(env, out.size());
  for (size_t i = 0; i < out.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("level", out[i].level);
    o.Set("text", out[i].text);
    arr.Set((uint32_t)i, o);
  }
  return arr;
}

// ---------------------------------------------------------------- system helpers

Napi::Value NumPossibleCpus(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int n = libbpf_num_possible_cpus();
  if (n < 0) return Throw(env, "libbpf_num_possible_cpus", n);
  return Napi::Number::New(env, n);
}

// Mount tracefs at /sys/kernel/tracing when it is not mounted. Returns "mounted", "present" or
// throws. libbpf 1.1 looks for /sys/kernel/debug/tracing first, then /sys/kernel/tracing.
Napi::Value EnsureTracefs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const long kTracefsMagic = 0x74726163;
  struct statfs sfs;
  if (statfs("/sys/kernel/tracing", &sfs) == 0 && (long)sfs.f_type == kTracefsMagic)
    return Napi::String::New(env, "present");
  if (access("/sys/kernel/debug/tracing/events", F_OK) == 0) return Napi::String::New(env, "present");
  if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
    return Throw(env, "mount tracefs", errno, "/sys/kernel/tracing");
  return Napi::String::New(env, "mounted");
}

// Try to raise RLIMIT_MEMLOCK; returns true/false, never throws (memcg accounting makes it
// unnecessary on kernels >= 5.11).
Napi::Value TryRaiseMemlock(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};
  return Napi::Boolean::New(env, setrlimit(RLIMIT_MEMLOCK, &r) == 0);
}

// ---------------------------------------------------------------- objects

Napi::Value ObjOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  std::string path = info[0].As<Napi::String>().Utf8Value();
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  std::string btf;
  if (info.Length() > 1 && info[1].IsString()) {
    btf = info[1].As<Napi::String>().Utf8Value();
    opts.btf_custom_path = btf.c_str();
  }
  errno = 0;
  bpf_object *obj = bpf_object__open_file(path.c_str(), &opts);
  if (!obj) return Throw(env, "bpf_object__open_file", errno ? errno : EINVAL, path);
  State *s = St(env);
  int h = s->next++;
  s->objs[h] = obj;
  return Napi::Number::New(env, h);
}

Napi::Value ObjLoad(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  OBJ_OR_THROW(obj, 0, "bpf_object__load");
  int err = bpf_object__load(obj);
  if (err) return Throw(env, "bpf_object__load", err, bpf_object__name(obj));
  return env.Undefined();
}

Napi::Value ObjClose(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  int h = info[0].As<Napi::Number>().Int32Value();
  State *s = St(env);
  auto it = s->objs.find(h);
  if (it == s->objs.end()) return Napi::Boolean::New(env, false);
  s->DestroyObjChildren(h);
  bpf_object__close(it->second);
  s->objs.erase(it);
  return Napi::Boolean::New(env, true);
}

Napi::Value ObjPrograms(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  OBJ_OR_THROW(obj, 0, "programs");
  Napi::Array arr = Napi::Array::New(env);
  bpf_program *p;
  uint32_t i = 0;
  bpf_object__for_each_program(p, obj) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_program__name(p));
    o.Set("section", bpf_program__section_name(p));
    o.Set("type", (int)bpf_program__type(p));
    o.Set("autoload", bpf_program__autoload(p));
    o.Set("fd", bpf_program__fd(p));
    arr.Set(i++, o);
  }
  return arr;
}

Napi::Value ObjMaps(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  OBJ_OR_THROW(obj, 0, "maps");
  Napi::Array arr = Napi::Array::New(env);
  bpf_map *m;
  uint32_t i = 0;
  bpf_object__for_each_map(m, obj) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_map__name(m));
    o.Set("type", (int)bpf_map__type(m));
    o.Set("keySize", bpf_map__key_size(m));
    o.Set("valueSize", bpf_map__value_size(m));
    o.Set("maxEntries", bpf_map__max_entries(m));
    o.Set("flags", bpf_map__map_flags(m));
    o.Set("fd", bpf_map__fd(m));
    o.Set("internal", bpf_map__is_internal(m));
    arr.Set(i++, o);
  }
  return arr;
}

Napi::Value ProgSetAutoload(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(3);
  OBJ_OR_THROW(obj, 0, "bpf_program__set_autoload");
  std::string name = info[1].As<Napi::String>().Utf8Value();
  bpf_program *p = FindProg(obj, name);
  if (!p) return Throw(env, "bpf_program__set_autoload", ENOENT, "no program " + name);
  int err = bpf_program__set_autoload(p, info[2].As<Napi::Boolean>().Value());
  if (err) return Throw(env, "bpf_program__set_autoload", err, name);
  return env.Undefined();
}

Napi::Value MapSetMaxEntries(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(3);
  OBJ_OR_THROW(obj, 0, "bpf_map__set_max_entries");
  std::string name = info[1].As<Napi::String>().Utf8Value();
  bpf_map *m = FindMap(obj, name);
  if (!m) return Throw(env, "bpf_map__set_max_entries", ENOENT, "no map " + name);
  int err = bpf_map__set_max_entries(m, info[2].As<Napi::Number>().Uint32Value());
  if (err) return Throw(env, "bpf_map__set_max_entries", err, name);
  return env.Undefined();
}

// Layout of a global data section (".rodata", ".data", ".bss") from the object's BTF:
// { mapName, size, vars: [{name, offset, size}] }.
Napi::Value DataSectionLayout(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(2);
  OBJ_OR_THROW(obj, 0, "section layout");
  std::string sec = info[1].As<Napi::String>().Utf8Value();
  bpf_map *m = FindMap(obj, sec);
  if (!m) return Throw(env, "section layout", ENOENT, "object has no " + sec + " section");
  size_t size = 0;
  bpf_map__initial_value(m, &size);
  Napi::Object out = Napi::Object::New(env);
  out.Set("mapName", bpf_map__name(m));
  out.Set("size", Napi::Number::New(env, (double)size));
  Napi::Array vars = Napi::Array::New(env);
  struct btf *btf = bpf_object__btf(obj);
  if (btf) {
    int id = btf__find_by_name_kind(btf, sec.c_str(), BTF_KIND_DATASEC);
    if (id > 0) {
      const struct btf_type *t = btf__type_by_id(btf, id);
      const struct btf_var_secinfo *vs = btf_var_secinfos(t);
      for (int i = 0; i < btf_vlen(t); i++, vs++) {
        const struct btf_type *vt = btf__type_by_id(btf, vs->type);
        Napi::Object v = Napi::Object::New(env);
        v.Set("name", btf__name_by_offset(btf, vt->name_off));
        v.Set("offset", vs->offset);
        v.Set("size", vs->size);
        vars.Set((uint32_t)i, v);
      }
    }
  }
  out.Set("vars", vars);
  return out;
}

Napi::Value MapGetInitial(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(2);
  OBJ_OR_THROW(obj, 0, "bpf_map__initial_value");
  std::string name = info[1].As<Napi::String>().Utf8Value();
  bpf_map *m = FindMap(obj, name);
  if (!m) return Throw(env, "bpf_map__initial_value", ENOENT, "no map " + name);
  size_t size = 0;
  const void *data = bpf_map__initial_value(m, &size);
  if (!data) return Throw(env, "bpf_map__initial_value", EINVAL, name + " has no initial value");
  return Napi::Buffer<uint8_t>::Copy(env, (const uint8_t *)data, size);
}

Napi::Value MapSetInitial(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(3);
  OBJ_OR_THROW(obj, 0, "bpf_map__set_initial_value");
  std::string name = info[1].As<Napi::String>().Utf8Value();
  bpf_map *m = FindMap(obj, name);
  if (!m) return Throw(env, "bpf_map__set_initial_value", ENOENT, "no map " + name);
  auto buf = info[2].As<Napi::Buffer<uint8_t>>();
  int err = bpf_map__set_initial_value(m, buf.Data(), buf.Length());
  if (err) return Throw(env, "bpf_map__set_initial_value", err, name);
  return env.Undefined();
}

// ---------------------------------------------------------------- attach

Napi::Value AddLink(const Napi::Env &env, int obj, bpf_link *link, const std::string &op,
                    const std::string &detail) {
  if (!link) return Throw(env, op, errno ? errno : EINVAL, detail);
  State *s = St(env);
  int h = s->next++;
  s->links[h] = {link, obj};
  return Napi::Number::New(env, h);
}

bpf_program *ProgOrThrow(const Napi::Env &env, bpf_object *obj, const Napi::Value &v, const std::string &op) {
  std::string name = v.As<Napi::String>().Utf8Value();
  bpf_program *p = FindProg(obj, name);
  if (!p) Throw(env, op, ENOENT, "no program " + name);
  return p;
}

// attachPerfEvent(obj, prog, cpu, pid, sampleValue, isFreq, type, config, inherit, inheritThread)
Napi::Value AttachPerfEvent(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(8);
  int oh = info[0].As<Napi::Number>().Int32Value();
  OBJ_OR_THROW(obj, 0, "bpf_program__attach_perf_event");
  bpf_program *p = ProgOrThrow(env, obj, info[1], "bpf_program__attach_perf_event");
  if (!p) return env.Undefined();
  int cpu = info[2].As<Napi::Number>().Int32Value();
  int pid = info[3].As<Napi::Number>().Int32Value();
  uint64_t sample = (uint64_t)info[4].As<Napi::Number>().DoubleValue();
  bool freq = info[5].As<Napi::Boolean>().Value();
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = info[6].As<Napi::Number>().Uint32Value();
  attr.config = (uint64_t)info[7].As<Napi::Number>().DoubleValue();
  attr.freq = freq ? 1 : 0;
  attr.inherit = info.Length() > 8 && info[8].ToBoolean().Value() ? 1 : 0;
  // Threads only: a forked process does not inherit the event (kernel >= 5.13).
  attr.inherit_thread = attr.inherit && info.Length() > 9 && info[9].ToBoolean().Value() ? 1 : 0;
  if (freq)
    attr.sample_freq = sample;
  else
    attr.sample_period = sample;
  errno = 0;
  int pfd = (int)syscall(__NR_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (pfd < 0) {
    return Throw(env, "perf_event_open", errno, "cpu " + std::to_string(cpu) + " pid " + std::to_string(pid));
  }
  errno = 0;
  bpf_link *link = bpf_program__attach_perf_event(p, pfd);
  if (!link) {
    int e = errno;
    close(pfd);
    errno = e;
  }
  return AddLink(env, oh, link, "bpf_program__attach_perf_event", bpf_program__name(p));
}

Napi::Value AttachTracepoint(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(4);
  int oh = info[0].As<Napi::Number>().Int32Value();
  OBJ_OR_THROW(obj, 0, "bpf_program__attach_tracepoint");
  bpf_program *p = ProgOrThrow(env, obj, info[1], "bpf_program__attach_tracepoint");
  if (!p) return env.Undefined();
  std::string cat = info[2].As<Napi::String>().Utf8Value();
  std::string name = info[3].As<Napi::String>().Utf8Value();
  errno = 0;
  bpf_link *link = bpf_program__attach_tracepoint(p, cat.c_str(), name.c_str());
  return AddLink(env, oh, link, "bpf_program__attach_tracepoint", cat + ":" + name);
}

Napi::Value AttachAuto(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(2);
  int oh = info[0].As<Napi::Number>().Int32Value();
  OBJ_OR_THROW(obj, 0, "bpf_program__attach");
  bpf_program *p = ProgOrThrow(env, obj, info[1], "bpf_program__attach");
  if (!p) return env.Undefined();
  errno = 0;
  bpf_link *link = bpf_program__attach(p);
  return AddLink(env, oh, link, "bpf_program__attach", bpf_program__section_name(p));
}

// attachUprobe(obj, prog, retprobe, pid, binaryPath, offset, funcName|null)
Napi::Value AttachUprobe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(7);
  int oh = info[0].As<Napi::Number>().Int32Value();
  OBJ_OR_THROW(obj, 0, "bpf_program__attach_uprobe_opts");
  bpf_program *p = ProgOrThrow(env, obj, info[1], "bpf_program__attach_uprobe_opts");
  if (!p) return env.Undefined();
  bool ret = info[2].As<Napi::Boolean>().Value();
  int pid = info[3].As<Napi::Number>().Int32Value();
  std::string path = info[4].As<Napi::String>().Utf8Value();
  size_t off = (size_t)info[5].As<Napi::Number>().DoubleValue();
  std::string fn;
  LIBBPF_OPTS(bpf_uprobe_opts, opts);
  opts.retprobe = ret;
  if (info[6].IsString()) {
    fn = info[6].As<Napi::String>().Utf8Value();
    opts.func_name = fn.c_str();
  }
  errno = 0;
  bpf_link *link = bpf_program__attach_uprobe_opts(p, pid, path.c_str(), off, &opts);
  return AddLink(env, oh, link, "bpf_program__attach_uprobe_opts", path + (fn.empty() ? "" : ":" + fn));
}

Napi::Value LinkDestroy(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  State *s = St(env);
  auto it = s->links.find(info[0].As<Napi::Number>().Int32Value());
  if (it == s->links.end()) return Napi::Boolean::New(env, false);
  bpf_link__destroy(it->second.link);
  s->links.erase(it);
  return Napi::Boolean::New(env, true);
}

// Closing a tracepoint's or an uprobe's link waits inside the kernel for an RCU grace period
// (20-65 ms each on these machines, far longer under load), mostly under a kernel-wide mutex:
// one after the other, the 33 links of a network task took 1-2 s to detach, 4-10 s on a busy
// machine, with the event loop blocked throughout. Links are destroyed on threads instead.

// Takes the links of these handles out of the table (unknown handles are skipped).
std::vector<bpf_link *> TakeLinks(State *s, const Napi::Array &handles) {
  std::vector<bpf_link *> links;
  for (uint32_t i = 0; i < handles.Length(); i++) {
    auto it = s->links.find(handles.Get(i).As<Napi::Number>().Int32Value());
    if (it == s->links.end()) continue;
    links.push_back(it->second.link);
    s->links.erase(it);
  }
  return links;
}

// Destroys the links spread over up to 64 threads (the caller's included): the waits overlap.
void DestroyInParallel(const std::vector<bpf_link *> &links) {
  const size_t kMaxThreads = 64;
  std::atomic<size_t> next{0};
  auto work = [&links, &next] {
    for (size_t i; (i = next.fetch_add(1)) < links.size();) bpf_link__destroy(links[i]);
  };
  std::vector<std::thread> threads;
  size_t want = std::min(links.size(), kMaxThreads);
  for (size_t t = 1; t < want; t++) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error &) {
      break;  // no more threads: the ones started and this one share the rest
    }
  }
  work();
  for (auto &t : threads) t.join();
}

// linksDestroy(handles): destroys the links now, in parallel; returns how many there were.
Napi::Value LinksDestroy(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  std::vector<bpf_link *> links = TakeLinks(St(env), info[0].As<Napi::Array>());
  DestroyInParallel(links);
  return Napi::Number::New(env, (double)links.size());
}

// linksDestroyInBackground(handles): takes the links out of the table at once and destroys them
// on a thread of their own; the promise resolves with their number once every one is gone (the
// programs may run until then). The pending promise keeps the process alive until then.
Napi::Value LinksDestroyInBackground(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  auto links = std::make_shared<std::vector<bpf_link *>>(TakeLinks(St(env), info[0].As<Napi::Array>()));
  auto deferred = Napi::Promise::Deferred::New(env);
  if (links->empty()) {
    deferred.Resolve(Napi::Number::New(env, 0));
    return deferred.Promise();
  }
  auto done = std::make_shared<Napi::Promise::Deferred>(deferred);
  Napi::ThreadSafeFunction tsfn = Napi::ThreadSafeFunction::New(
      env, Napi::Function::New(env, [](const Napi::CallbackInfo &) {}), "linksDestroyInBackground", 0, 1);
  try {
    std::thread([links, done, tsfn]() mutable {
      DestroyInParallel(*links);
      tsfn.BlockingCall([links, done](Napi::Env env, Napi::Function) {
        done->Resolve(Napi::Number::New(env, (double)links->size()));
      });
      tsfn.Release();
    }).detach();
  } catch (const std::system_error &) {
    DestroyInParallel(*links);  // no thread to be had: now, on this one
    tsfn.Release();
    deferred.Resolve(Napi::Number::New(env, (double)links->size()));
  }
  return deferred.Promise();
}

// ---------------------------------------------------------------- map operations (by fd)

// lookup(fd, key, valueSize) and lookupAndDelete: a value Buffer, or null when the key is absent.
static Napi::Value LookupWith(const Napi::CallbackInfo &info, int (*op)(int, const void *, void *), const char *name) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(3);
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  uint32_t vsz = info[2].As<Napi::Number>().Uint32Value();
  Napi::Buffer<uint8_t> val = Napi::Buffer<uint8_t>::New(env, vsz);
  if (op(fd, key.Data(), val.Data())) {
    if (errno == ENOENT) return env.Null();
    return Throw(env, name, errno);
  }
  return val;
}

Napi::Value MapLookup(const Napi::CallbackInfo &info) {
  return LookupWith(info, bpf_map_lookup_elem, "bpf_map_lookup_elem");
}

Napi::Value MapLookupAndDelete(const Napi::CallbackInfo &info) {
  return LookupWith(info, bpf_map_lookup_and_delete_elem, "bpf_map_lookup_and_delete_elem");
}

Napi::Value MapUpdate(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(4);
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  auto val = info[2].As<Napi::Buffer<uint8_t>>();
  uint64_t flags = (uint64_t)info[3].As<Napi::Number>().DoubleValue();
  if (bpf_map_update_elem(fd, key.Data(), val.Data(), flags)) return Throw(env, "bpf_map_update_elem", errno);
  return env.Undefined();
}

Napi::Value MapDelete(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(2);
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  if (bpf_map_delete_elem(fd, key.Data())) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    return Throw(env, "bpf_map_delete_elem", errno);
  }
  return Napi::Boolean::New(env, true);
}

// nextKey(fd, key|null, keySize) -> Buffer | null at the end
Napi::Value MapNextKey(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(3);
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint32_t ksz = info[2].As<Napi::Number>().Uint32Value();
  const void *cur = nullptr;
  if (info[1].IsBuffer()) cur = info[1].As<Napi::Buffer<uint8_t>>().Data();
  Napi::Buffer<uint8_t> next = Napi::Buffer<uint8_t>::New(env, ksz);
  if (bpf_map_get_next_key(fd, cur, next.Data())) {
    if (errno == ENOENT) return env.Null();
    return Throw(env, "bpf_map_get_next_key", errno);
  }
  return next;
}

// batch(fd, keySize, valueSize, maxEntries, del) -> { keys: Buffer, values: Buffer, count }
// Throws with errno EINVAL/ENOTSUPP/EOPNOTSUPP when the map type has no batch support; the JS
// side falls back to iterate (+ delete).
Napi::Value MapBatch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(5);
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint32_t ksz = info[1].As<Napi::Number>().Uint32Value();
  uint32_t vsz = info[2].As<Napi::Number>().Uint32Value();
  uint32_t max = info[3].As<Napi::Number>().Uint32Value();
  bool del = info[4].As<Napi::Boolean>().Value();
  if (max == 0) max = 1;
  std::vector<uint8_t> keys((size_t)ksz * max), vals((size_t)vsz * max);
  // For hash maps the batch token is a bucket index (u32); 8 bytes covers every map type.
  uint64_t in_batch = 0, out_batch = 0;
  bool first = true;
  uint32_t total = 0;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  for (;;) {
    uint32_t count = max - total;
    if (count == 0) break;
    int err = del ? bpf_map_lookup_and_delete_batch(fd, first ? nullptr : &in_batch, &out_batch,
                                                    keys.data() + (size_t)total * ksz,
                                                    vals.data() + (size_t)total * vsz, &count, &opts)
                  : bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch,
                                         keys.data() + (size_t)total * ksz, vals.data() + (size_t)total * vsz,
                                         &count, &opts);
    int e = err ? errno : 0;
    if (err && e != ENOENT) {
      if (total == 0 || e != ENOSPC) return Throw(env, del ? "bpf_map_lookup_and_delete_batch" : "bpf_map_lookup_batch", e);
    }
    total += count;
    if (err) break;  // ENOENT: done
    in_batch = out_batch;
    first = false;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), (size_t)total * ksz));
  out.Set("values", Napi::Buffer<uint8_t>::Copy(env, vals.data(), (size_t)total * vsz));
  out.Set("count", total);
  return out;
}

Napi::Value MapInfoByFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof(mi));
  uint32_t len = sizeof(mi);
  if (bpf_obj_get_info_by_fd(fd, &mi, &len)) return Throw(env, "bpf_obj_get_info_by_fd", errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", mi.id);
  o.Set("type", mi.type);
  o.Set("keySize", mi.key_size);
  o.Set("valueSize", mi.value_size);
  o.Set("maxEntries", mi.max_entries);
  o.Set("flags", mi.map_flags);
  o.Set("name", mi.name);
  return o;
}

// ---------------------------------------------------------------- ring buffers

// A negative return stops ring_buffer__consume after this record (libbpf keeps the rest).
constexpr int kStop = -ECANCELED;

// The drainer's consume: a record goes to the staging queue while it has room.
// libbpf has moved past a record before it calls back, so the record is kept even when it takes
// the queue past its bound; the consume stops there.
int StageRecord(RingCtx *c, void *data, size_t size) {
  c->staged.emplace_back((const char *)data, size);
  c->stagedBytes += size;
  return c->stagedBytes >= c->stagedMax ? kStop : 0;
}

// Moves every record of the ring to the staging queue, whatever its bound (JavaScript asked for
// all of them now; the ring holds at most its size). Call with c->mu held.
void StageAll(RingCtx *c, ring_buffer *rb) {
  size_t max = c->stagedMax;
  c->stagedMax = SIZE_MAX;
  c->toStaging = true;
  ring_buffer__consume(rb);
  c->toStaging = false;
  c->stagedMax = max;
}

// Every intervalMs while records come; an idle ring is looked at less and less often (up to 8
// times the interval), so that an idle task's drainer costs next to nothing.
void DrainLoop(RingCtx *c, ring_buffer *rb, int intervalMs) {
  int sleepMs = intervalMs;
  while (!c->stopDrainer) {
    bool took = false;
    {
      std::lock_guard<std::mutex> lock(c->mu);
      if (c->stagedBytes < c->stagedMax) {
        size_t before = c->staged.size();
        c->toStaging = true;
        ring_buffer__consume(rb);
        c->toStaging = false;
        took = c->staged.size() != before;
      }
    }
    sleepMs = took ? intervalMs : std::min(sleepMs * 2, intervalMs * 8);
    for (int slept = 0; slept < sleepMs && !c->stopDrainer; slept += 10)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10, sleepMs - slept)));
  }
}

int RingSample(void *ctx, void *data, size_t size) {
  RingCtx *c = (RingCtx *)ctx;
  if (c->toStaging) return StageRecord(c, data, size);
  c->records.emplace_back((const char *)data, size);
  if (c->limit && c->records.size() >= c->limit) return kStop;
  return 0;
}

// Appends a record to the arena if it and its span fit; false otherwise.
bool ArenaPut(RingCtx *c, const void *data, size_t size) {
  size_t at = (c->used + 7) & ~(size_t)7;  // 8-aligned, so views can be read as 64-bit words
  if (c->count >= c->maxSpans || at + size > c->arenaLen) return false;
  memcpy(c->arena + at, data, size);
  c->spans[2 * c->count] = (uint32_t)at;
  c->spans[2 * c->count + 1] = (uint32_t)size;
  c->count++;
  c->used = at + size;
  return true;
}

int RingSampleArena(void *ctx, void *data, size_t size) {
  RingCtx *c = (RingCtx *)ctx;
  if (c->toStaging) return StageRecord(c, data, size);
  if (!ArenaPut(c, data, size)) {
    c->carry.assign((const char *)data, size);
    c->hasCarry = true;
    c->more = true;
    return kStop;
  }
  if (c->limit && c->count >= c->limit) return kStop;
  return 0;
}

Napi::Value RingNew(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(2);
  int oh = info[0].As<Napi::Number>().Int32Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  bool arena = info.Length() > 2 && info[2].ToBoolean().Value();
  RingCtx *ctx = new RingCtx();
  errno = 0;
  ring_buffer *rb = ring_buffer__new(fd, arena ? RingSampleArena : RingSample, ctx, nullptr);
  if (!rb) {
    int e = errno;
    delete ctx;
    return Throw(env, "ring_buffer__new", e ? e : EINVAL);
  }
  State *s = St(env);
  int h = s->next++;
  s->rings[h] = {rb, ctx, oh};
  return Napi::Number::New(env, h);
}

// consume(h, limit) -> Buffer[] (records in order); never blocks.
Napi::Value RingConsume(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  State *s = St(env);
  auto it = s->rings.find(info[0].As<Napi::Number>().Int32Value());
  if (it == s->rings.end()) return Throw(env, "ring_buffer__consume", EBADF, "ring buffer is closed");
  RingCtx *c = it->second.ctx;
  std::lock_guard<std::mutex> lock(c->mu);
  c->limit = info.Length() > 1 ? info[1].As<Napi::Number>().Uint32Value() : 0;
  c->records.clear();
  int n = 0;
  if (c->drainer.joinable()) {
    StageAll(c, it->second.rb);
    while (!c->staged.empty() && (!c->limit || c->records.size() < c->limit)) {
      c->stagedBytes -= c->staged.front().size();
      c->records.push_back(std::move(c->staged.front()));
      c->staged.pop_front();
    }
  } else {
    n = ring_buffer__consume(it->second.rb);
  }
  if (n < 0 && n != kStop && c->records.empty()) return Throw(env, "ring_buffer__consume", n);
  Napi::Array arr = Napi::Array::New(env, c->records.size());
  for (size_t i = 0; i < c->records.size(); i++)
    arr.Set((uint32_t)i, Napi::Buffer<uint8_t>::Copy(env, (const uint8_t *)c->records[i].data(), c->records[i].size()));
  c->records.clear();
  c->records.shrink_to_fit();
  return arr;
}

// consumeInto(h, arena: Buffer, spans: Uint32Array, limit) -> n * 2 + more, or -(bytes needed)
// when a record larger than the arena waits (grow it and call again). Records are copied into
// the arena once, with no allocation per record; spans holds [offset, length] per record.
// Only for rings created in arena mode.
Napi::Value RingConsumeInto(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(4);
  State *s = St(env);
  auto it = s->rings.find(info[0].As<Napi::Number>().Int32Value());
  if (it == s->rings.end()) return Throw(env, "ring_buffer__consume", EBADF, "ring buffer is closed");
  if (!info[1].IsBuffer() || !info[2].IsTypedArray()) return ThrowArg(env, "consumeInto(h, Buffer, Uint32Array, limit)");
  auto arena = info[1].As<Napi::Buffer<uint8_t>>();
  auto spans = info[2].As<Napi::Uint32Array>();
  RingCtx *c = it->second.ctx;
  std::lock_guard<std::mutex> lock(c->mu);
  c->arena = arena.Data();
  c->arenaLen = arena.Length();
  c->spans = spans.Data();
  c->maxSpans = spans.ElementLength() / 2;
  c->limit = info[3].As<Napi::Number>().Uint32Value();
  c->used = 0;
  c->count = 0;
  c->more = false;
  if (c->hasCarry) {
    if (!ArenaPut(c, c->carry.data(), c->carry.size())) return Napi::Number::New(env, -(double)c->carry.size() - 64);
    c->hasCarry = false;
    c->carry.clear();
    c->carry.shrink_to_fit();
  }
  int n = 0;
  if (c->drainer.joinable()) {
    // Staged records first, then what the ring holds now (staged too, to keep the order).
    StageAll(c, it->second.rb);
    while (!c->staged.empty() && (!c->limit || c->count < c->limit)) {
      const std::string &r = c->staged.front();
      if (!ArenaPut(c, r.data(), r.size())) {
        c->more = true;
        if (c->count == 0) {
          // Larger than the arena: the caller grows it and calls again.
          size_t need = r.size();
          c->arena = nullptr;
          c->arenaLen = 0;
          c->spans = nullptr;
          c->maxSpans = 0;
          return Napi::Number::New(env, -(double)need - 64);
        }
        break;
      }
      c->stagedBytes -= r.size();
      c->staged.pop_front();
    }
    if (!c->more && !c->staged.empty()) c->more = true;  // stopped by the limit
  } else if (!c->limit || c->count < c->limit) {
    n = ring_buffer__consume(it->second.rb);
  }
  // The buffers belong to JavaScript: forget them, so a stray consume() cannot write into them.
  c->arena = nullptr;
  c->arenaLen = 0;
  c->spans = nullptr;
  c->maxSpans = 0;
  if (n < 0 && n != kStop && c->count == 0) return Throw(env, "ring_buffer__consume", n);
  return Napi::Number::New(env, (double)c->count * 2 + (c->more ? 1 : 0));
}

// ringStartDrainer(h, maxBytes, intervalMs): a thread moves the ring's records into a queue of
// at most about maxBytes every intervalMs, for consume()/consumeInto() to take (see RingCtx).
Napi::Value RingStartDrainer(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(3);
  State *s = St(env);
  auto it = s->rings.find(info[0].As<Napi::Number>().Int32Value());
  if (it == s->rings.end()) return Throw(env, "ring_buffer drainer", EBADF, "ring buffer is closed");
  RingCtx *c = it->second.ctx;
  if (c->drainer.joinable()) return Napi::Boolean::New(env, false);
  {
    std::lock_guard<std::mutex> lock(c->mu);
    c->stagedMax = (size_t)info[1].As<Napi::Number>().DoubleValue();
    if (c->hasCarry) {
      // A record left over from a direct consume goes first.
      c->staged.push_front(std::move(c->carry));
      c->stagedBytes += c->staged.front().size();
      c->hasCarry = false;
    }
  }
  int interval = std::max(1, info[2].As<Napi::Number>().Int32Value());
  ring_buffer *rb = it->second.rb;
  try {
    c->drainer = std::thread(DrainLoop, c, rb, interval);
  } catch (const std::system_error &e) {
    return Throw(env, "ring_buffer drainer", e.code().value() ? e.code().value() : EAGAIN, "no thread for the drainer");
  }
  return Napi::Boolean::New(env, true);
}

Napi::Value RingEpollFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  State *s = St(env);
  auto it = s->rings.find(info[0].As<Napi::Number>().Int32Value());
  if (it == s->rings.end()) return Throw(env, "ring_buffer__epoll_fd", EBADF, "ring buffer is closed");
  return Napi::Number::New(env, ring_buffer__epoll_fd(it->second.rb));
}

Napi::Value RingFree(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  State *s = St(env);
  auto it = s->rings.find(info[0].As<Napi::Number>().Int32Value());
  if (it == s->rings.end()) return Napi::Boolean::New(env, false);
  it->second.ctx->StopDrainer();
  ring_buffer__free(it->second.rb);
  delete it->second.ctx;
  s->rings.erase(it);
  return Napi::Boolean::New(env, true);
}

// probeProgType(type) -> 1 supported, 0 not supported; throws on probe failure (EPERM...).
Napi::Value ProbeProgType(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGS(1);
  int r = libbpf_probe_bpf_prog_type((enum bpf_prog_type)info[0].As<Napi::Number>().Int32Value(), nullptr);
  if (r < 0) return Throw(env, "libbpf_probe_bpf_prog_type", r);
  return Napi::Number::New(env, r);
}

// releaseFreeMemory() -> true when glibc gave pages back. Large transient buffers (ELF files,
// /proc/kallsyms, BPF records) leave the malloc heap fragmented; glibc keeps those free pages
// resident until malloc_trim returns them (MADV_DONTNEED). false where there is no glibc.
Napi::Value ReleaseFreeMemory(const Napi::CallbackInfo &info) {
#ifdef __GLIBC__
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

Napi::Value LiveCounts(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  State *s = St(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("objects", (double)s->objs.size());
  o.Set("links", (double)s->links.size());
  o.Set("ringBuffers", (double)s->rings.size());
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Instance data is deleted when the environment is torn down: State::~State destroys all
  // live links, ring buffers and objects (this is our env cleanup hook).
  env.SetInstanceData<State>(new State());
  libbpf_set_print(PrintFn);
  libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
#define EXPORT(name, fn) exports.Set(name, Napi::Function::New(env, fn, name))
  EXPORT("setLogLevel", SetLogLevel);
  EXPORT("takeLog", TakeLog);
  EXPORT("numPossibleCpus", NumPossibleCpus);
  EXPORT("ensureTracefs", EnsureTracefs);
  EXPORT("tryRaiseMemlock", TryRaiseMemlock);
  EXPORT("objOpen", ObjOpen);
  EXPORT("objLoad", ObjLoad);
  EXPORT("objClose", ObjClose);
  EXPORT("objPrograms", ObjPrograms);
  EXPORT("objMaps", ObjMaps);
  EXPORT("progSetAutoload", ProgSetAutoload);
  EXPORT("mapSetMaxEntries", MapSetMaxEntries);
  EXPORT("dataSectionLayout", DataSectionLayout);
  EXPORT("mapGetInitial", MapGetInitial);
  EXPORT("mapSetInitial", MapSetInitial);
  EXPORT("attachPerfEvent", AttachPerfEvent);
  EXPORT("attachTracepoint", AttachTracepoint);
  EXPORT("attachAuto", AttachAuto);
  EXPORT("attachUprobe", AttachUprobe);
  EXPORT("linkDestroy", LinkDestroy);
  EXPORT("linksDestroy", LinksDestroy);
  EXPORT("linksDestroyInBackground", LinksDestroyInBackground);
  EXPORT("mapLookup", MapLookup);
  EXPORT("mapLookupAndDelete", MapLookupAndDelete);
  EXPORT("mapUpdate", MapUpdate);
  EXPORT("mapDelete", MapDelete);
  EXPORT("mapNextKey", MapNextKey);
  EXPORT("mapBatch", MapBatch);
  EXPORT("mapInfoByFd", MapInfoByFd);
  EXPORT("ringNew", RingNew);
  EXPORT("ringConsume", RingConsume);
  EXPORT("ringConsumeInto", RingConsumeInto);
  EXPORT("ringEpollFd", RingEpollFd);
  EXPORT("ringStartDrainer", RingStartDrainer);
  EXPORT("ringFree", RingFree);
  EXPORT("liveCounts", LiveCounts);
  EXPORT("releaseFreeMemory", ReleaseFreeMemory);
  EXPORT("probeProgType", ProbeProgType);
#undef EXPORT
  return exports;
}

}  // namespace

NODE_API_MODULE(swlite_libbpf, Init)
