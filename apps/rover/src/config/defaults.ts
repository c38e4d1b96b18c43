/**
 * The built-in defaults, kept identical to apps/rover/config/rover.yaml (a test checks this). They
 * are embedded so a bundled rover (dist/rover.js) runs without the YAML file next to it. Every
 * value is a `${ENV_NAME:default}` placeholder with upstream skywalking-rover's env name, so each
 * setting can be overridden by environment even when the user's file does not mention it.
 */
export const DEFAULT_CONFIG_YAML = `# Configuration of rover (@swlite/rover), the SkyWalking-compatible eBPF agent.
#
# Every value may be written as \${ENV_NAME:default}: the environment variable ENV_NAME wins when it
# is set and not empty, else the default after the first ":" is used (the whole value must be one
# placeholder, as in upstream skywalking-rover's configs/rover_configs.yaml, whose env names these
# are). Durations are Go-style: "9ms", "20s", "10m", "1h30m".
#
# Choose the file with "rover --config <file>" or ROVER_CONFIG=<file>. A file only needs the keys
# it changes; everything else keeps the defaults below.

logger:
  # The lowest level of printing allowed.
  level: \${ROVER_LOGGER_LEVEL:INFO}

core:
  # The name of the cluster. In Kubernetes mode it prefixes service names as "<cluster>::<service>".
  cluster_name: \${ROVER_CORE_CLUSTER_NAME:}
  backend:
    # The backend server address (oap-lite or the SkyWalking OAP gRPC port).
    addr: \${ROVER_BACKEND_ADDR:localhost:11800}
    # The TLS switch
    enable_TLS: \${ROVER_BACKEND_ENABLE_TLS:false}
    # The file path of client.pem. The config only works when opening the TLS switch.
    client_pem_path: \${ROVER_BACKEND_PEM_PATH:}
    # The file path of client.key. The config only works when opening the TLS switch.
    client_key_path: \${ROVER_BACKEND_KEY_PATH:}
    # Whether to skip verifying the server's certificate chain and host name.
    insecure_skip_verify: \${ROVER_BACKEND_INSECURE_SKIP_VERIFY:false}
    # The file path of ca.pem. The config only works when opening the TLS switch.
    ca_pem_path: \${ROVER_BACKEND_CA_PEM_PATH:}
    # How frequently to check the connection (seconds)
    check_period: \${ROVER_BACKEND_CHECK_PERIOD:5}
    # The auth value sent with every request (the "Authentication" metadata header)
    authentication: \${ROVER_BACKEND_AUTHENTICATION:}

host:
  # Where the host's /proc is visible (set when rover runs in a container with the host's /proc
  # mounted elsewhere, e.g. /host/proc).
  proc_mapping: \${ROVER_HOST_PROC_MAPPING:/proc}

process_discovery:
  # The period of report or keep alive process
  heartbeat_period: \${ROVER_PROCESS_DISCOVERY_HEARTBEAT_PERIOD:20s}
  # The agent sends the process properties to the backend every: heartbeat period * properties report period
  properties_report_period: \${ROVER_PROCESS_DISCOVERY_PROPERTIES_REPORT_PERIOD:10}
  # Scan processes from the host's /proc (host mode)
  scanner:
    # Is active the host process scanner
    active: \${ROVER_PROCESS_DISCOVERY_SCAN_ACTIVE:true}
    # The period to detect the process
    period: \${ROVER_PROCESS_DISCOVERY_SCAN_PERIOD:3s}
    # The process detection mode of the scanner: "REGEX" (the finders below), "AGENT_SENSOR"
    # (processes that run a SkyWalking language agent which writes its metadata file), or "AUTO"
    # (ours, the default): agent processes, plus the processes the finders below match that are
    # servers (hold a listening TCP socket). AUTO never reports short-lived commands.
    mode: \${ROVER_PROCESS_DISCOVERY_SCAN_MODE:AUTO}
    # Processes younger than this are not reported yet (skips short-lived commands)
    min_age: \${ROVER_PROCESS_DISCOVERY_SCAN_MIN_AGE:5s}
    agent:
      # A language agent's metadata file must have been refreshed within this period
      process_status_refresh_period: \${ROVER_PROCESS_DISCOVERY_AGENT_PROCESS_STATUS_REFRESH_PERIOD:1m}
    regex:
      # Use regexes to locate the processes; when several finders match one process only the first
      # is used. Duplicate entities cannot be reported: if several processes build the same entity
      # (layer, service, instance, process name), only the oldest of them is reported.
      # By default every user-space process (not kernel threads, zombies or rover itself) matches;
      # in AUTO mode only the servers among them are reported.
      - match_cmd: \${ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_MATCH_CMD:.+}
        # Also/instead match the executable's path (an extension of upstream)
        match_exe: \${ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_MATCH_EXE:}
        # The Layer need to relate to the process entity
        layer: \${ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_LAYER:OS_LINUX}
        # The Service Name need to relate to the process entity
        service_name: \${ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_SERVICE_NAME:{{.Process.ExeName}}}
        # The Service Instance Name need to relate to the process entity
        instance_name: \${ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_INSTANCE_NAME:{{.Rover.HostName}}}
        # The Process Name need to relate to the process entity. The pid keeps every process of a
        # service apart (an nginx master and its workers), so all of them can be profiled.
        process_name: \${ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_PROCESS_NAME:{{.Process.ExeName}}-{{.Process.Pid}}}
        # The Process Labels, used to aggregate similar process from service entity. Split by ","
        labels: \${ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_LABELS:}
  kubernetes:
    # Is active the kubernetes process detector
    active: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ACTIVE:false}
    # Current node name in kubernetes environment (required when active)
    node_name: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_NODE_NAME:}
    # include namespaces, multiple namespace split by ",", if empty means including all namespaces
    namespaces: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_NAMESPACES:}
    # How often pods and services are listed and host processes matched to containers
    period: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_PERIOD:5s}
    analyzers:
      - active: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_ENVOY_ACTIVE:true}
        filters:
          - \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_ENVOY_HAS_ENVOY:.Pod.HasContainer "istio-proxy"}
          - \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_ENVOY_CONTAINER_IS_ENVOY:eq .Container.Name "istio-proxy"}
        layer: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_ENVOY_LAYER:MESH_DP}
        service_name: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_ENVOY_SERVICE_NAME:{{.Pod.LabelValue "service.istio.io/canonical-name,app.kubernetes.io/name,app" ""}}.{{.Pod.Namespace}}}
        instance_name: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_ENVOY_INSTANCE_NAME:{{.Pod.Name}}}
        process_name: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_ENVOY_PROCESS_NAME:{{.Process.ExeName}}}
        labels: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_ENVOY_LABELS:mesh-envoy}
      - active: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_APPLICATION_ACTIVE:true}
        filters:
          - \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_APPLICATION_HAS_ENVOY:.Pod.HasContainer "istio-proxy"}
          - \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_APPLICATION_CONTAINER_NOT_ENVOY:ne .Container.Name "istio-proxy"}
        layer: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_APPLICATION_LAYER:MESH}
        service_name: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_APPLICATION_SERVICE_NAME:{{.Pod.LabelValue "service.istio.io/canonical-name,app.kubernetes.io/name,app" ""}}.{{.Pod.Namespace}}}
        instance_name: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_APPLICATION_INSTANCE_NAME:{{.Pod.Name}}}
        process_name: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_APPLICATION_PROCESS_NAME:{{.Process.ExeName}}}
        labels: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_APPLICATION_LABELS:mesh-application}
      - active: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_K8S_SERVICE_ACTIVE:true}
        filters:
          - \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_K8S_SERVICE_HAS_SERVICE:.Pod.HasServiceName}
        layer: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_K8S_SERVICE_LAYER:K8S_SERVICE}
        service_name: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_K8S_SERVICE_NAME:{{.Pod.ServiceName}}.{{.Pod.Namespace}}}
        instance_name: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_K8S_SERVICE_INSTANCE_NAME:{{.Pod.Name}}}
        process_name: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_K8S_SERVICE_PROCESS_NAME:{{.Process.ExeName}}}
        labels: \${ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_K8S_SERVICE_LABLES:k8s-service}

profiling:
  # Is active the process profiling
  active: \${ROVER_PROFILING_ACTIVE:true}
  # Check the profiling task interval
  check_interval: \${ROVER_PROFILING_CHECK_INTERVAL:10s}
  # Combine existing profiling data and report to the backend interval
  flush_interval: \${ROVER_PROFILING_FLUSH_INTERVAL:5s}
  # How user stacks are walked (an extension of upstream): "fp" = the kernel's frame-pointer walk
  # (cheapest; only right for binaries built with frame pointers, unlike Debian's), "dwarf" =
  # registers + a copy of the top of the user stack per sample, unwound in rover with the binaries'
  # .eh_frame CFI (frame pointers where there is no CFI), "auto" = dwarf, or fp when the kernel
  # cannot load the snapshot programs.
  unwind: \${ROVER_PROFILING_UNWIND:auto}
  # Name the Python functions of CPython 3.11-3.13 processes (an extension of upstream): their
  # frames are read in the kernel at each sample and take the place of the interpreter's
  # _PyEval_EvalFrameDefault frames (unwind "dwarf"/"auto" only). Other versions are logged, not read.
  python: \${ROVER_PROFILING_PYTHON:true}
  # Customize profiling task config
  task:
    # The config when executing ON_CPU profiling task
    on_cpu:
      # The profiling stack dump period
      dump_period: \${ROVER_PROFILING_TASK_ON_CPU_DUMP_PERIOD:9ms}
      # Sample with a CPU-clock event of each thread of the processes (counts each process's own
      # CPU time exactly, even on CPUs busy with other tasks) while their threads number at most
      # this in total, one file descriptor pair each; processes beyond it are sampled with one
      # event per CPU. 0: always per CPU (upstream's way). An extension of upstream.
      thread_sampling_max_threads: \${ROVER_PROFILING_TASK_ON_CPU_THREAD_SAMPLING_MAX_THREADS:0}
    network:
      # The interval of send metrics to the backend
      report_interval: \${ROVER_PROFILING_TASK_NETWORK_TOPOLOGY_REPORT_INTERVAL:2s}
      # The prefix of network profiling metrics name
      meter_prefix: \${ROVER_PROFILING_TASK_NETWORK_TOPOLOGY_METER_PREFIX:rover_net_p}
      # The protocol analyzer config for 7-Layer
      protocol_analyze:
        # The size of socket data buffer on each CPU
        per_cpu_buffer: \${ROVER_PROFILING_TASK_NETWORK_PROTOCOL_ANALYZE_PER_CPU_BUFFER:400KB}
        # The count of parallel protocol analyzer
        parallels: \${ROVER_PROFILING_TASK_NETWORK_PROTOCOL_ANALYZE_PARALLELS:2}
        # The size of per paralleled analyzer queue
        queue_size: \${ROVER_PROFILING_TASK_NETWORK_PROTOCOL_ANALYZE_QUEUE_SIZE:5000}
  # continuous profiling config
  continuous:
    # continuous related meters prefix name
    meter_prefix: \${ROVER_PROFILING_CONTINUOUS_METER_PREFIX:rover_con_p}
    # The interval of fetch metrics from the system, such as Process CPU, System Load, etc.
    fetch_interval: \${ROVER_PROFILING_CONTINUOUS_FETCH_INTERVAL:1s}
    # The interval of check metrics is reach the thresholds
    check_interval: \${ROVER_PROFILING_CONTINUOUS_CHECK_INTERVAL:5s}
    trigger:
      # the duration of the profiling task
      execute_duration: \${ROVER_PROFILING_CONTINUOUS_TRIGGER_EXECUTE_DURATION:10m}
      # the minimal duration between the execution of the same profiling task
      silence_duration: \${ROVER_PROFILING_CONTINUOUS_TRIGGER_SILENCE_DURATION:20m}
`;
