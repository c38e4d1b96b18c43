package dev.swlite.es;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.action.admin.cluster.health.ClusterHealthResponse;
import org.elasticsearch.cluster.health.ClusterHealthStatus;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.core.TimeValue;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginBundle;
import org.elasticsearch.plugins.PluginsLoader;

/**
 * One single-node Elasticsearch cluster for oap-lite's tests, run in-process from the Maven Central
 * jars (no distribution archive, no Docker).
 *
 * <p>Usage: {@code EsNode [--port N] [--data DIR] [--parent-pid PID]}; defaults come from SWLITE_ES_PORT (9200) and
 * SWLITE_ES_DATA (./target/es-data). The data dir holds everything the node writes: {@code home/}
 * (path.home), {@code data/} and {@code logs/}. System property {@code swlite.es.modules} points
 * at the module directories Maven assembled (default ./target/modules).
 *
 * <p>Prints {@code ES READY http://127.0.0.1:PORT} once the cluster health is yellow or green, and
 * closes the node on SIGTERM / SIGINT, or when the optional parent process (SWLITE_ES_PARENT_PID)
 * exits.
 */
public final class EsNode {
  static final String CLUSTER_NAME = "swlite-test";

  public static void main(String[] args) throws Exception {
    String portArg = env("SWLITE_ES_PORT", "9200");
    String dataArg = env("SWLITE_ES_DATA", "target/es-data");
    String parentArg = env("SWLITE_ES_PARENT_PID", "");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--port" -> portArg = args[++i];
        case "--data" -> dataArg = args[++i];
        case "--parent-pid" -> parentArg = args[++i];
        default -> {
          System.err.println("usage: EsNode [--port N] [--data DIR] [--parent-pid PID]");
          System.exit(2);
        }
      }
    }
    int port = Integer.parseInt(portArg);
    Path root = Path.of(dataArg).toAbsolutePath().normalize();
    Path home = root.resolve("home");
    // Built by Maven (target/modules): one directory per module, descriptor + jars.
    Path modules = Path.of(System.getProperty("swlite.es.modules", "target/modules")).toAbsolutePath();
    if (!Files.isRegularFile(modules.resolve("transport-netty4/plugin-descriptor.properties"))) {
      System.err.println("ES modules not found in " + modules + " (run mvn package in tools/elasticsearch)");
      System.exit(2);
    }
    Files.createDirectories(home.resolve("config"));
    Files.createDirectories(home.resolve("plugins"));
    Files.createDirectories(root.resolve("data"));
    Files.createDirectories(root.resolve("logs"));

    Settings settings = Settings.builder()
        .put("cluster.name", CLUSTER_NAME)
        .put("node.name", CLUSTER_NAME + "-0")
        .put("path.home", home.toString())
        .put("path.data", root.resolve("data").toString())
        .put("path.logs", root.resolve("logs").toString())
        .put("discovery.type", "single-node")
        .put("network.host", "127.0.0.1")
        .put("http.port", Integer.toString(port))
        // Transport is only used inside this one node: any free port.
        .put("transport.port", "0")
        // Test machines have small, often nearly full disks: never block writes on watermarks.
        .put("cluster.routing.allocation.disk.threshold_enabled", false)
        .put("action.destructive_requires_name", false)
        .put("node.processors", Math.min(2, Runtime.getRuntime().availableProcessors()))
        .build();

    LogConfigurator.registerErrorListener();
    LogConfigurator.setNodeName(CLUSTER_NAME + "-0");
    LogConfigurator.setClusterName(CLUSTER_NAME);
    LogConfigurator.configureESLogging();
    LogConfigurator.configureWithoutConfig(
        Settings.builder().put(settings).put("logger.level", env("SWLITE_ES_LOG_LEVEL", "WARN")).build());

    long t0 = System.nanoTime();
    Environment environment = new Environment(settings, home.resolve("config"));
    // Security off: the x-pack security plugin is simply not loaded. The only module is
    // transport-netty4 (HTTP + transport), loaded by its own class loader from its directory.
    Set<PluginBundle> moduleBundles = PluginsLoader.loadModulesBundles(modules);
    PluginsLoader pluginsLoader = PluginsLoader.createPluginsLoader(moduleBundles, Set.of(), Map.of(), false);
    Node node = new Node(environment, pluginsLoader);

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
        if (!node.awaitClose(20, TimeUnit.SECONDS)) {
          System.err.println("ES node did not close within 20s");
        }
      } catch (Exception e) {
        e.printStackTrace();
      } finally {
        System.out.println("ES STOPPED");
        System.out.flush();
        stopped.countDown();
      }
    }, "swlite-es-shutdown"));

    if (!parentArg.isEmpty()) {
      watchParent(Long.parseLong(parentArg));
    }
    node.start();
    ClusterHealthResponse health = node.client().admin().cluster()
        .prepareHealth(TimeValue.timeValueSeconds(60))
        .setWaitForYellowStatus()
        .setTimeout(TimeValue.timeValueSeconds(60))
        .get();
    if (health.isTimedOut() || health.getStatus() == ClusterHealthStatus.RED) {
      System.err.println("ES cluster did not become yellow: " + health.getStatus());
      System.exit(1);
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    PrintStream out = System.out;
    out.println("ES READY http://127.0.0.1:" + port + " (" + health.getStatus() + ", node started in " + ms + " ms)");
    out.flush();
    stopped.await();
  }

  /**
   * Test runners that crash never call stop.sh: when the process that asked for this node is gone,
   * shut down (the shutdown hook closes the node) instead of lingering on a shared machine.
   */
  private static void watchParent(long pid) {
    Thread t = new Thread(() -> {
      while (true) {
        boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        if (!alive) {
          System.err.println("ES parent process " + pid + " is gone: shutting down");
          System.exit(0);
        }
        try {
          Thread.sleep(2000);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "swlite-es-parent-watch");
    t.setDaemon(true);
    t.start();
  }

  private static String env(String name, String dflt) {
    String v = System.getenv(name);
    return v == null || v.isEmpty() ? dflt : v;
  }

  private EsNode() {}
}
