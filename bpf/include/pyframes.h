/* Python (CPython 3.11+) frames read at sample time: what crosses the kernel/user boundary.
 * The walker is progs/core/python.h; user space describes these structs in src/python/layout.ts
 * (checked against BTF by src/layout.test.ts) and fills py_procs from its per-version table
 * (src/python/versions.ts). Include after vmlinux.h. */
#ifndef SWLITE_PYFRAMES_H
#define SWLITE_PYFRAMES_H

/* Python frames per sample, innermost first; deeper stacks are cut at the outer end. */
#define PY_MAX_FRAMES 64
/* Bytes kept per code object: the start of its qualified name, the end of its file name (the
 * base name matters most), the start of its location table (co_linetable). */
#define PY_NAME_BYTES 128
#define PY_FILE_BYTES 256
#define PY_LINETABLE_BYTES 512

/* py_offsets.entry_kind: how a frame tells that it is the first one of an eval-loop call
 * (one C call of _PyEval_EvalFrameDefault runs the Python frames up to it). */
#define PY_ENTRY_FLAG 0 /* 3.11: the frame's bool at frame_entry is set */
#define PY_ENTRY_SHIM 1 /* 3.12+: the eval call pushes a shim frame owned by the C stack
			 * (owner == cstack_owner) before its first frame; shims are not reported */

/* Offsets into one CPython version's structures, from user space's per-version table. */
struct py_offsets {
	__u16 runtime_interpreters_head; /* _PyRuntimeState.interpreters.head */
	__u16 interp_next;               /* PyInterpreterState.next */
	__u16 interp_threads_head;       /* PyInterpreterState.threads.head */
	__u16 tstate_next;               /* PyThreadState.next */
	__u16 tstate_native_thread_id;   /* PyThreadState.native_thread_id (the kernel's tid) */
	__u16 tstate_frame;              /* PyThreadState.cframe (3.11, 3.12) or .current_frame (3.13) */
	__u16 cframe_current_frame;      /* _PyCFrame.current_frame; 0xffff: tstate_frame is the frame */
	__u16 frame_code;                /* _PyInterpreterFrame.f_code (f_executable in 3.13) */
	__u16 frame_previous;
	__u16 frame_instr;               /* prev_instr (3.11, 3.12) or instr_ptr (3.13) */
	__u16 frame_entry;               /* is_entry (3.11) */
	__u16 frame_owner;
	__u16 object_type;               /* PyObject.ob_type */
	__u16 code_firstlineno;
	__u16 code_filename;
	__u16 code_qualname;
	__u16 code_linetable;
	__u16 code_bytecode;             /* co_code_adaptive: the instructions */
	__u16 unicode_length;            /* PyASCIIObject.length (characters) */
	__u16 unicode_state;
	__u16 unicode_ascii_data;        /* sizeof(PyASCIIObject) */
	__u16 unicode_compact_data;      /* sizeof(PyCompactUnicodeObject) */
	__u16 bytes_size;                /* PyVarObject.ob_size of a bytes object */
	__u16 bytes_data;                /* PyBytesObject.ob_sval */
	__u8 entry_kind;                 /* PY_ENTRY_* */
	__u8 cstack_owner;               /* FRAME_OWNED_BY_CSTACK (PY_ENTRY_SHIM) */
	__u8 pad[2];
}; /* 52 bytes */

/* py_procs value: one Python process. */
struct py_proc {
	__u64 runtime;   /* address of _PyRuntime in the process */
	__u64 code_type; /* address of PyCode_Type: every frame's code object must have this type */
	struct py_offsets off;
	__u8 pad[4];
}; /* 72 bytes */

/* A frame's instr carries this bit on the first frame of an eval-loop call. */
#define PY_FRAME_ENTRY (1u << 31)

/* One Python frame of a sample. */
struct py_frame {
	__u64 code;  /* PyCodeObject address */
	__u32 tag;   /* the code object's fingerprint (py_code_key.tag) */
	__u32 instr; /* byte offset of the current instruction in co_code_adaptive | PY_FRAME_ENTRY */
}; /* 16 bytes */

/* py_codes key: a code object as seen by one process. The tag mixes the addresses of its name
 * and file strings with its first line, so that a freed code object whose address is reused by
 * another function is another key. */
struct py_code_key {
	__u32 tgid;
	__u32 tag;
	__u64 code;
}; /* 16 bytes */

/* py_codes value: what a code object's frames are named by, read once when first sampled (the
 * strings are read in the kernel: user space may see the sample after the code object is gone). */
struct py_code {
	__s32 first_line;
	__u32 linetable_len; /* co_linetable's full length */
	__u32 name_len;      /* byte length of co_qualname in the process (characters * kind) */
	__u32 file_len;      /* byte length of co_filename in the process */
	__u8 name_kind;      /* PyUnicode kind (1 latin-1/ascii, 2 UCS-2, 4 UCS-4); 0: unreadable */
	__u8 file_kind;
	__u8 pad[2];
	__u8 name[PY_NAME_BYTES];           /* the first min(name_len, PY_NAME_BYTES) bytes */
	__u8 file[PY_FILE_BYTES];           /* the last min(file_len, PY_FILE_BYTES) bytes */
	__u8 linetable[PY_LINETABLE_BYTES]; /* the first min(linetable_len, PY_LINETABLE_BYTES) bytes */
}; /* 916 bytes */

#endif
