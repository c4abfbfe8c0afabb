// The analytics stores this stage deploys (stacks/analytics-plan.ts): per zone, a private
// encrypted S3 bucket, the Glue table over its Parquet partitions (projected, so no crawler), the
// Firehose stream that converts the exporter's JSON records to Parquet and partitions them by
// kind and day, an Athena workgroup, and alarms on a lagging export or undelivered records.
import { logicalName, policyDocument, type Plan } from './plan.js';
import {
  EXPORT_ITERATOR_AGE_ALARM_MS,
  FIREHOSE_BUFFER_MB,
  FIREHOSE_BUFFER_SECONDS,
  FIREHOSE_FRESHNESS_ALARM_SECONDS,
  GLUE_COLUMNS,
  GLUE_PARTITION_KEYS,
  type AnalyticsStorePlan,
} from './analytics-plan.js';

const PARQUET = {
  input: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  output: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
  serde: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
};

export function deployAnalytics(plan: Plan, refs: { account: $util.Output<string>; topic: aws.sns.Topic }) {
  const stores = plan.analytics.stores.map((s) => deployStore(plan, s, refs));
  const exporter = plan.functions.find((f) => f.fn === 'analytics-export');
  if (exporter) {
    // A lagging or failing export never touches the API; it shows here, and failed batches
    // reach the stream-failure queue (alarmed by stacks/alarms.ts).
    new aws.cloudwatch.MetricAlarm('AnalyticsExportIteratorAge', {
      name: `${exporter.name}-iterator-age`,
      alarmDescription: 'The analytics export is falling behind its table streams',
      namespace: 'AWS/Lambda',
      metricName: 'IteratorAge',
      dimensions: { FunctionName: exporter.name },
      statistic: 'Maximum',
      period: 300,
      evaluationPeriods: 1,
      threshold: EXPORT_ITERATOR_AGE_ALARM_MS,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      alarmActions: [refs.topic.arn],
    });
  }
  return stores;
}

function deployStore(plan: Plan, s: AnalyticsStorePlan, refs: { account: $util.Output<string>; topic: aws.sns.Topic }) {
  const id = (what: string) => logicalName('Analytics', s.zone, what);
  const bucket = new aws.s3.Bucket(id('Bucket'), { bucketPrefix: s.bucketPrefix, forceDestroy: !plan.target.production });
  new aws.s3.BucketPublicAccessBlock(id('PublicAccess'), { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
  new aws.s3.BucketServerSideEncryptionConfiguration(id('Encryption'), { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }] });

  const database = new aws.glue.CatalogDatabase(id('Database'), { name: s.glueDatabase });
  const table = new aws.glue.CatalogTable(id('Table'), {
    databaseName: database.name,
    name: s.glueTable,
    tableType: 'EXTERNAL_TABLE',
    parameters: bucket.bucket.apply((b) => ({
      classification: 'parquet',
      ...Object.fromEntries(Object.entries(s.projection).map(([k, v]) => [k, v.replace('${bucket}', b)])),
    })),
    partitionKeys: GLUE_PARTITION_KEYS.map((name) => ({ name, type: 'string' })),
    storageDescriptor: {
      location: $interpolate`s3://${bucket.bucket}/events/`,
      inputFormat: PARQUET.input,
      outputFormat: PARQUET.output,
      serDeInfo: { serializationLibrary: PARQUET.serde },
      columns: GLUE_COLUMNS.map((c) => ({ ...c })),
    },
  });

  const glueArn = (what: string) => $interpolate`arn:aws:glue:${s.region}:${refs.account}:${what}`;
  const role = new aws.iam.Role(id('FirehoseRole'), {
    assumeRolePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'firehose.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    inlinePolicies: [
      {
        name: 'deliver',
        policy: $resolve([bucket.arn, glueArn('catalog'), glueArn(`database/${s.glueDatabase}`), glueArn(`table/${s.glueDatabase}/${s.glueTable}`)]).apply(([b, catalog, db, t]) =>
          JSON.stringify(
            policyDocument([
              { effect: 'allow', actions: ['s3:AbortMultipartUpload', 's3:GetBucketLocation', 's3:GetObject', 's3:ListBucket', 's3:ListBucketMultipartUploads', 's3:PutObject'], resources: [b!, `${b}/*`] },
              { effect: 'allow', actions: ['glue:GetTable', 'glue:GetTableVersion', 'glue:GetTableVersions'], resources: [catalog!, db!, t!] },
            ]),
          ),
        ),
      },
    ],
  });

  const stream = new aws.kinesis.FirehoseDeliveryStream(id('Stream'), {
    name: s.deliveryStream,
    destination: 'extended_s3',
    serverSideEncryption: { enabled: true, keyType: 'AWS_OWNED_CMK' },
    extendedS3Configuration: {
      roleArn: role.arn,
      bucketArn: bucket.arn,
      bufferingSize: FIREHOSE_BUFFER_MB,
      bufferingInterval: FIREHOSE_BUFFER_SECONDS,
      prefix: s.dataPrefix,
      errorOutputPrefix: s.errorPrefix,
      dynamicPartitioningConfiguration: { enabled: true },
      processingConfiguration: {
        enabled: true,
        processors: [
          {
            type: 'MetadataExtraction',
            parameters: [
              { parameterName: 'JsonParsingEngine', parameterValue: 'JQ-1.6' },
              { parameterName: 'MetadataExtractionQuery', parameterValue: s.partitionQuery },
            ],
          },
        ],
      },
      dataFormatConversionConfiguration: {
        inputFormatConfiguration: { deserializer: { openXJsonSerDe: {} } },
        outputFormatConfiguration: { serializer: { parquetSerDe: {} } },
        schemaConfiguration: { databaseName: database.name, tableName: table.name, roleArn: role.arn, region: s.region },
      },
    },
  });

  new aws.athena.Workgroup(id('Workgroup'), {
    name: s.athenaWorkgroup,
    forceDestroy: !plan.target.production,
    configuration: {
      enforceWorkgroupConfiguration: true,
      resultConfiguration: { outputLocation: $interpolate`s3://${bucket.bucket}/athena-results/`, encryptionConfiguration: { encryptionOption: 'SSE_S3' } },
    },
  });

  new aws.cloudwatch.MetricAlarm(id('Freshness'), {
    name: `${s.deliveryStream}-freshness`,
    alarmDescription: `Firehose holds ${s.zone} analytics records it has not delivered to S3`,
    namespace: 'AWS/Firehose',
    metricName: 'DeliveryToS3.DataFreshness',
    dimensions: { DeliveryStreamName: s.deliveryStream },
    statistic: 'Maximum',
    period: 300,
    evaluationPeriods: 1,
    threshold: FIREHOSE_FRESHNESS_ALARM_SECONDS,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    alarmActions: [refs.topic.arn],
  });
  return { zone: s.zone, bucket, stream, table };
}
