/** A known pair of analysis trees (the shapes the OAP returns) for renderer tests and the screenshot. */
import type { AnalysisTree } from '../render/types';

const el = (id: number, parentId: number, symbol: string, dumpCount: number, kernel = false) => ({
  id: String(id),
  parentId: String(parentId),
  symbol,
  stackType: kernel ? 'KERNEL_SPACE' : 'USER_SPACE',
  dumpCount,
});

/**
 * 65 samples: main (45) → ngx_worker_process_cycle → ngx_process_events (35) → entry_SYSCALL_64 [k]
 * → do_syscall_64 [k]; ngx_http_log_handler (10). start_thread (20) → worker_loop (8 self)
 * → compress (12). IDs restart at 1 in each tree, as the OAP numbers them.
 */
export const SMALL_TREES: AnalysisTree[] = [
  {
    elements: [
      el(1, 0, 'main', 45),
      el(2, 1, 'ngx_worker_process_cycle', 45),
      el(3, 2, 'ngx_process_events', 35),
      el(4, 2, 'ngx_http_log_handler', 10),
      el(5, 3, 'entry_SYSCALL_64', 35, true),
      el(6, 5, 'do_syscall_64', 35, true),
    ],
  },
  {
    elements: [el(1, 0, 'start_thread', 20), el(2, 1, 'worker_loop', 20), el(3, 2, 'compress', 12)],
  },
];

export const SMALL_FOLDED = [
  'main;ngx_worker_process_cycle;ngx_http_log_handler 10',
  'main;ngx_worker_process_cycle;ngx_process_events;entry_SYSCALL_64_[k];do_syscall_64_[k] 35',
  'start_thread;worker_loop 8',
  'start_thread;worker_loop;compress 12',
  '',
].join('\n');

/** A realistic nginx-under-load profile (user + kernel frames) for the screenshot: several hundred frames. */
export const nginxLikeTrees = (): AnalysisTree[] => {
  type Frame = [string, boolean];
  const stacks: Array<[Frame[], number]> = [];
  const u = (s: string): Frame => [s, false];
  const k = (s: string): Frame => [s, true];
  const base = [
    u('_start'),
    u('__libc_start_main'),
    u('main'),
    u('ngx_master_process_cycle'),
    u('ngx_start_worker_processes'),
    u('ngx_spawn_process'),
    u('ngx_worker_process_cycle'),
    u('ngx_process_events_and_timers'),
  ];
  const epoll = [...base, u('ngx_epoll_process_events')];
  const sys = (name: string) => [k('entry_SYSCALL_64_after_hwframe'), k('do_syscall_64'), k(name)];
  stacks.push([
    [...epoll, u('epoll_wait'), ...sys('__x64_sys_epoll_wait'), k('do_epoll_wait'), k('ep_poll'), k('schedule_hrtimeout_range')],
    140,
  ]);
  const http = [...epoll, u('ngx_http_wait_request_handler'), u('ngx_http_process_request_line')];
  stacks.push([[...http, u('ngx_http_parse_request_line')], 52]);
  stacks.push([[...http, u('ngx_http_process_request_headers'), u('ngx_http_parse_header_line')], 61]);
  const req = [
    ...http,
    u('ngx_http_process_request_headers'),
    u('ngx_http_process_request'),
    u('ngx_http_handler'),
    u('ngx_http_core_run_phases'),
  ];
  stacks.push([[...req, u('ngx_http_core_find_config_phase'), u('ngx_http_core_find_location'), u('ngx_strncmp')], 23]);
  stacks.push([
    [
      ...req,
      u('ngx_http_static_handler'),
      u('ngx_open_cached_file'),
      u('ngx_open_and_stat_file'),
      u('__open64'),
      ...sys('__x64_sys_openat'),
      k('do_sys_openat2'),
      k('do_filp_open'),
      k('path_openat'),
      k('link_path_walk'),
    ],
    38,
  ]);
  stacks.push([
    [
      ...req,
      u('ngx_http_static_handler'),
      u('ngx_open_cached_file'),
      u('ngx_open_and_stat_file'),
      u('__fstat64'),
      ...sys('__do_sys_newfstat'),
      k('vfs_fstat'),
    ],
    17,
  ]);
  const send = [
    ...req,
    u('ngx_http_static_handler'),
    u('ngx_http_output_filter'),
    u('ngx_http_write_filter'),
    u('ngx_linux_sendfile_chain'),
  ];
  stacks.push([
    [
      ...send,
      u('writev'),
      ...sys('__x64_sys_writev'),
      k('do_writev'),
      k('vfs_writev'),
      k('sock_write_iter'),
      k('tcp_sendmsg'),
      k('tcp_sendmsg_locked'),
      k('tcp_push'),
      k('__tcp_push_pending_frames'),
      k('tcp_write_xmit'),
      k('__tcp_transmit_skb'),
      k('ip_queue_xmit'),
      k('ip_finish_output2'),
      k('__dev_queue_xmit'),
    ],
    96,
  ]);
  stacks.push([
    [
      ...send,
      u('sendfile64'),
      ...sys('__x64_sys_sendfile64'),
      k('do_sendfile'),
      k('splice_direct_to_actor'),
      k('generic_file_splice_read'),
      k('filemap_read'),
    ],
    44,
  ]);
  stacks.push([[...req, u('ngx_http_log_handler'), u('ngx_http_log_variable'), u('ngx_sprintf')], 21]);
  stacks.push([
    [...req, u('ngx_http_log_handler'), u('ngx_write_fd'), u('write'), ...sys('ksys_write'), k('vfs_write'), k('ext4_file_write_iter')],
    29,
  ]);
  stacks.push([[...epoll, u('ngx_event_accept'), u('accept4'), ...sys('__sys_accept4'), k('inet_accept'), k('inet_csk_accept')], 33]);
  stacks.push([
    [
      ...epoll,
      u('ngx_http_keepalive_handler'),
      u('recv'),
      ...sys('__x64_sys_recvfrom'),
      k('__sys_recvfrom'),
      k('tcp_recvmsg'),
      k('tcp_recvmsg_locked'),
      k('skb_copy_datagram_iter'),
    ],
    47,
  ]);
  stacks.push([
    [
      ...epoll,
      u('ngx_http_close_connection'),
      u('ngx_close_connection'),
      u('close'),
      ...sys('__x64_sys_close'),
      k('__fput'),
      k('sock_close'),
      k('tcp_close'),
    ],
    26,
  ]);
  stacks.push([[...base, u('ngx_event_expire_timers'), u('ngx_rbtree_delete')], 9]);
  stacks.push([
    [
      u('start_thread'),
      u('ngx_thread_pool_cycle'),
      u('ngx_thread_read_handler'),
      u('pread64'),
      ...sys('__x64_sys_pread64'),
      k('vfs_read'),
      k('filemap_read'),
      k('copy_page_to_iter'),
    ],
    31,
  ]);
  stacks.push([[k('ret_from_fork'), k('kthread'), k('worker_thread'), k('process_one_work'), k('flush_to_ldisc')], 6]);
  const trees: AnalysisTree[] = [];
  const roots = new Map<
    string,
    {
      elements: AnalysisTree['elements'];
      index: Map<string, { id: number; count: number }>;
    }
  >();
  for (const [frames, count] of stacks) {
    const rootKey = `${frames[0]![1]}${frames[0]![0]}`;
    let tree = roots.get(rootKey);
    if (!tree) {
      tree = { elements: [], index: new Map() };
      roots.set(rootKey, tree);
      trees.push({ elements: tree.elements });
    }
    let parent = 0;
    let path = '';
    for (const [symbol, kernel] of frames) {
      path += `;${kernel ? 'k' : 'u'}${symbol}`;
      let entry = tree.index.get(path);
      if (!entry) {
        entry = { id: tree.elements.length + 1, count: 0 };
        tree.index.set(path, entry);
        tree.elements.push(el(entry.id, parent, symbol, 0, kernel));
      }
      entry.count += count;
      tree.elements[entry.id - 1]!.dumpCount = entry.count;
      parent = entry.id;
    }
  }
  return trees;
};
