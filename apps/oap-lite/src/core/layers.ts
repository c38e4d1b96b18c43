/**
 * The layers of the SkyWalking OAP 10.1.0 (its Layer enum, UNDEFINED left out as listLayers
 * leaves it out). A process reported in any other layer is refused, as the Java OAP refuses it.
 */
export const LAYERS = [
  'MESH',
  'GENERAL',
  'OS_LINUX',
  'K8S',
  'FAAS',
  'MESH_CP',
  'MESH_DP',
  'DATABASE',
  'CACHE',
  'BROWSER',
  'SO11Y_OAP',
  'SO11Y_SATELLITE',
  'MQ',
  'VIRTUAL_DATABASE',
  'VIRTUAL_MQ',
  'VIRTUAL_GATEWAY',
  'K8S_SERVICE',
  'MYSQL',
  'VIRTUAL_CACHE',
  'POSTGRESQL',
  'APISIX',
  'AWS_EKS',
  'OS_WINDOWS',
  'AWS_S3',
  'AWS_DYNAMODB',
  'AWS_GATEWAY',
  'REDIS',
  'ELASTICSEARCH',
  'RABBITMQ',
  'MONGODB',
  'KAFKA',
  'PULSAR',
  'BOOKKEEPER',
  'NGINX',
  'ROCKETMQ',
  'CLICKHOUSE',
  'ACTIVEMQ',
  'CILIUM_SERVICE',
  'SO11Y_JAVA_AGENT',
] as const;

const KNOWN = new Set<string>(LAYERS);

export const isLayer = (name: string): boolean => KNOWN.has(name);

/** Layers whose services are not real ones (Layer.isNormal false in the OAP). */
export const VIRTUAL_LAYERS = new Set(['VIRTUAL_DATABASE', 'VIRTUAL_MQ', 'VIRTUAL_GATEWAY', 'VIRTUAL_CACHE']);
