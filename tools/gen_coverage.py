#!/usr/bin/env python3
"""Writes docs/coverage.md: every operation of every served model, and whether Vigil serves it.

An operation counts as served when a service registers a handler for it (`on("Operation", ...)`, or KMS's `op(` / `void_op(`
in src/services/<service>/). Everything else answers UnknownOperationException (InvalidAction
in the query protocol, NotImplemented for S3). Run after adding handlers:  python3 tools/gen_coverage.py
"""
import glob
import json
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# schema name -> (source folder, display name, notes per operation)
SERVICES = {
    "logs": ("logs", "CloudWatch Logs", {
        "PutLogEvents": "AWS limits: 1,048,576-byte batches (26 bytes per event), 10,000 events, 24 h span, 14 days back / 2 h ahead reported in rejectedLogEventsInfo; sequence tokens ignored",
        "FilterLogEvents": "full filter pattern syntax; streams merged by time; data event (not in LookupEvents)",
        "GetLogEvents": "forward/backward tokens; data event",
        "PutRetentionPolicy": "retention enforced by range deletes every 10 minutes",
    }),
    "cloudtrail": ("cloudtrail", "CloudTrail", {
        "LookupEvents": "all eight lookup attributes, time range, pagination; management events of the last 90 days; EventCategory=insight returns the Insights events (EventId, EventName, EventSource lookups)",
        "PutInsightSelectors": "trails (name or ARN, home region): ApiCallRateInsight (needs write management events in the trail's event selectors) and ApiErrorRateInsight (needs management events), InvalidInsightSelectorsException otherwise and for a missing or repeated type (a type outside the enum is InvalidParameterException, from the model); an empty list turns Insights off; EventCategories Management (default); Data and EventDataStore/InsightsDestination answer UnsupportedOperationException. Logging trails then get Start/End Insights events (AWS's record format, sharedEventID, baseline and insight averages, durations, attributions) for bursts above max(mean + 3 sd, 2 mean, mean + 10) per minute against a 7-day baseline (--insights-period, --insights-baseline, --insights-min-history), delivered under [prefix/]AWSLogs/<account>/CloudTrail-Insight/<region>/ and, with CloudWatchLogsLogGroupArn, as log events in the trail's log group (stream <account>_CloudTrail_<region>, as AWS documents); no SNS notification and no digest for those files (AWS documents neither for Insights files: its pages on both show CloudTrail/ log files only, and validate-logs reads CloudTrail-Digest/ only); in LookupEvents EventCategory=insight, in the trail's ListInsightsData and on the internal event bus",
        "ListInsightsMetricData": "management-event Insights of the caller's account and region, from the per-period counts the detector stores for its baseline: EventSource, EventName, InsightType (ApiErrorRateInsight needs ErrorCode), Period 60/300/3600 (a multiple of --insights-period), StartTime (inclusive, default 90 days back) / EndTime (exclusive, default now), DataType NonZeroData (default) or FillWithZeros, MaxResults (21,600) / NextToken; InvalidParameterException otherwise. Available: the closed periods of the baseline window (--insights-baseline, 7 days; AWS keeps 1-minute points 15 days, 5-minute 63, hourly 90) while the account analyses the type; the open period shows once it closes. TrailName (Insights on data events) answers UnsupportedOperationException",
        "ListInsightsData": "InsightSource = the ARN of a trail visible in the region (multi-region trails from every region): the Insights events of the region that the trail took for delivery (the ones in its CloudTrail-Insight/ files, kept 90 days; a trail deleted and created again starts empty; AWS documents the operation for Insights on data events, which Vigil does not detect, so these are its management-event Insights), newest first, in LookupEvents' Event shape; DataType InsightsEvents; Dimensions EventId, EventName or EventSource (one); StartTime/EndTime inclusive (default the last 90 days); MaxResults 1-50 (default 50) / NextToken (only with the parameters that produced it); paged from the store. Errors are the operation's documented ones: InvalidParameterException (also for an ARN that names no trail, as the operation has no TrailNotFoundException, and for StartTime after EndTime), UnsupportedOperationException for an event data store ARN",
        "GetInsightSelectors": "trails (name or ARN, shadow trails included); InsightNotEnabledException without Insights selectors; EventDataStore answers UnsupportedOperationException",
        "CreateTrail": "AWS's trail name rules, 5 trails per region; the bucket must exist and its bucket policy must let cloudtrail.amazonaws.com do s3:GetBucketAcl and s3:PutObject on [prefix/]AWSLogs/<account>/* (IAM subset incl. aws:SourceArn / aws:SourceAccount / s3:x-amz-acl conditions; InsufficientS3BucketPolicyException otherwise, also for a bucket without a policy, as on AWS); SnsTopicName (name or ARN of a topic of the trail's account and region: InsufficientSnsTopicPolicyException / InvalidSnsTopicNameException; topic policies not evaluated); CloudWatchLogsLogGroupArn + CloudWatchLogsRoleArn (existing group of the account and region; the role is checked for its form only, no IAM roles yet); EnableLogFileValidation (signed hourly digest files, --trail-digest-interval); KmsKeyId (key id, key ARN, alias name or alias ARN of a KMS key of the account and region, kept as the key's ARN; log files delivered SSE-KMS with it (each file's data key wrapped by the key), digest files SSE-S3 as AWS documents; InvalidKmsKeyIdException, KmsKeyNotFoundException, KmsException for a disabled or pending-deletion key; a key that becomes unusable fails delivery with LatestDeliveryError KMS.<error>, records held until it can deliver; key policies not evaluated); organization trails answer UnsupportedOperationException",
        "UpdateTrail": "bucket and prefix (bucket policy checked again), multi-region, global events, SnsTopicName (empty: off), CloudWatchLogs* (both empty: off), KmsKeyId (as CreateTrail; empty: off), EnableLogFileValidation (disabling breaks the digest chain); home region only (InvalidHomeRegionException)",
        "DeleteTrail": "home region only; drops the trail's undelivered records",
        "GetTrail": "name or ARN; multi-region trails visible from every region (shadow trails)",
        "DescribeTrails": "trailNameList (names or ARNs; unknown ones left out), includeShadowTrails",
        "ListTrails": "trails of the region plus multi-region shadows, one page",
        "GetTrailStatus": "IsLogging, Start/StopLoggingTime, LatestDeliveryTime, LatestDeliveryAttemptTime, LatestDeliveryError (NoSuchBucket, AccessDenied when the bucket policy no longer allows CloudTrail: nothing is written, records wait), LatestDigestDeliveryTime, LatestNotificationTime/Error/AttemptTime/AttemptSucceeded (one SNS message {\"s3Bucket\",\"s3ObjectKey\":[key]} per log file), LatestCloudWatchLogsDeliveryTime/Error (one log event per record in stream <account>_CloudTrail_<region>, not retried)",
        "ListPublicKeys": "digest signing keys of the account and region (RSA-2048, rotated daily, retired keys kept) overlapping StartTime/EndTime; PKCS#1 DER Value, MD5 fingerprint; one page",
        "StartLogging": "log files `{\"Records\":[...]}` gzip JSON per account and region every `--trail-delivery-interval` s (default 300), AWS's key layout; records buffered durably in the store",
        "StopLogging": "the StopLogging call itself is delivered, later records are not",
        "PutEventSelectors": "basic selectors (ReadWriteType, IncludeManagementEvents, ExcludeManagementEventSources, DataResources: AWS::S3::Object / Lambda / DynamoDB types, ARN prefixes) or advanced selectors (each replaces the other, as in AWS; InvalidParameterCombinationException for both): eventCategory Management or Data; management selectors filter on readOnly and eventSource NotEquals kms.amazonaws.com / rdsdata.amazonaws.com; data selectors need one resources.type (Equals, an AWS::Service::Type) and filter on eventName, eventSource, eventType, readOnly, resources.ARN, userIdentity.arn with Equals/StartsWith/EndsWith and their Not forms; 500 values per trail; InvalidEventSelectorsException otherwise; NetworkActivity and the sessionCredentialFromConsole / vpcEndpointId fields answer UnsupportedOperationException",
        "GetEventSelectors": "the trail's basic or advanced selectors (whichever it has)",
        "AddTags": "trails and event data stores (by ARN), 50 tags",
        "RemoveTags": "by key, or key and value",
        "ListTags": "trails and event data stores, up to 20 ARNs, one page",
        "CreateEventDataStore": "collects the account's CloudTrail records from its creation on (as AWS; no backfill): its region, or all regions with MultiRegionEnabled (default); AdvancedEventSelectors with eventCategory Management or Data and eventSource/eventName/readOnly/eventType/errorCode/userIdentity.arn/resources.type/resources.ARN field selectors (Equals/StartsWith/EndsWith and their Not forms; Data selectors name their resources.type with Equals, AWS::Service::Type values; sessionCredentialFromConsole / vpcEndpointId answer UnsupportedOperationException); RetentionPeriod (7-3653 days, 2557 for FIXED_RETENTION_PRICING) enforced at query time and purged hourly; TerminationProtectionEnabled; BillingMode; StartIngestion; TagsList; 10 per region; KmsKeyId (a KMS key of the account and region, kept as its ARN: while it is disabled or pending deletion the store takes no events and StartQuery answers KmsException, as in AWS; KmsKeyNotFoundException / InvalidKmsKeyIdException / KmsException; the events themselves are not sealed by it); OrganizationEnabled=true and the ConfigurationItem/Insight/ActivityAuditLog categories answer UnsupportedOperationException / OrganizationsNotInUseException",
        "GetEventDataStore": "by ID or ARN (EventDataStoreARNInvalidException, EventDataStoreNotFoundException)",
        "ListEventDataStores": "by name, MaxResults/NextToken",
        "UpdateEventDataStore": "name, selectors, KmsKeyId (may be added, not changed: InvalidParameterException), multi-region, retention, termination protection, billing mode (fixed to extendable only); InactiveEventDataStoreException while pending deletion",
        "DeleteEventDataStore": "PENDING_DELETION for 7 days, then dropped with its events; EventDataStoreTerminationProtectedException",
        "RestoreEventDataStore": "a store pending deletion, back to its previous status; InvalidEventDataStoreStatusException otherwise",
        "StartEventDataStoreIngestion": "STOPPED_INGESTION -> ENABLED",
        "StopEventDataStoreIngestion": "ENABLED -> STOPPED_INGESTION (nothing collected meanwhile)",
        "StartQuery": "Trino SELECT run by SQLite (services/cloudtrail/lake_sql.h): FROM <EDS ID or ARN> (joins, subqueries, WITH, UNION), WHERE/GROUP BY/HAVING/ORDER BY/LIMIT/DISTINCT, the aggregates, nested fields (userIdentity.arn), TIMESTAMP/ISO literals, from_iso8601_timestamp, to_iso8601, from_unixtime, to_unixtime, date_trunc, date_add, date_diff, now()/current_timestamp, timestamp ± INTERVAL 'n' unit, element_at, json_extract_scalar, cardinality, regexp_like; eventTime ranges seek instead of scanning; only SELECT (InvalidQueryStatementException), 10 active queries (MaxConcurrentQueriesException), 1 h timeout (TIMED_OUT), 256 MB of results and 512 MB of SQLite memory per query (FAILED beyond); other Trino-only functions are InvalidQueryStatementException; QueryParameters (1-10 strings of 1-1024 characters) bound to the statement's `?` placeholders in order as text values (a timestamp one as a timestamp literal), a count mismatch or a named placeholder is InvalidQueryStatementException; DeliveryS3Uri (bucket must exist and its policy let cloudtrail.amazonaws.com s3:GetBucketAcl / s3:PutObject with aws:SourceArn = the event data store: S3BucketDoesNotExistException, InsufficientS3BucketPolicyException, InvalidS3BucketNameException, InvalidS3PrefixException) writes a FINISHED query's rows, streamed from the store, as gzip CSV result_N.csv.gz plus a signed result_sign.json (SHA256withRSA with the ListPublicKeys keys) under [prefix/]AWSLogs/<account>/CloudTrail-Lake/Query/YYYY/MM/DD/<query id>/; QueryAlias answers UnsupportedOperationException",
        "DescribeQuery": "QueryStatus, QueryString (a parameterized statement with its parameters shown in place as SQL literals), QueryStatistics (EventsMatched = result rows, EventsScanned, BytesScanned, ExecutionTimeInMillis, CreationTime), ErrorMessage, DeliveryS3Uri and DeliveryStatus (PENDING, SUCCESS, ACCESS_DENIED / ACCESS_DENIED_SIGNING_FILE when the policy no longer allows it, RESOURCE_NOT_FOUND, FAILED / FAILED_SIGNING_FILE, CANCELLED; no partial results are delivered)",
        "GetQueryResults": "rows as lists of {column: value} maps, values as strings (NULL as \"\"), unnamed expressions as _colN; MaxQueryResults/NextToken paged from the store; results kept 7 days",
        "CancelQuery": "QUEUED or RUNNING (interrupts SQLite); InactiveQueryException otherwise",
        "ListQueries": "per event data store, newest first, StartTime/EndTime/QueryStatus filters, MaxResults/NextToken",
    }),
    "cloudwatch": ("cloudwatch", "CloudWatch", {
        "PutMetricData": "Value / Values+Counts (150) / StatisticValues, 1,000 metrics, 30 dimensions, StorageResolution 1 or 60, 2 weeks back / 2 h ahead, NaN/Inf rejected, gzip bodies; count/sum/min/max and a percentile sketch (1% relative error) per series and resolution bucket; EntityMetricData not yet; data event",
        "GetMetricStatistics": "SampleCount, Sum, Average, Minimum, Maximum and ExtendedStatistics (pNN.NN, tm/TM, wm/WM, tc/TC, ts/TS, IQM, PR); Period 1/5/10/30 or a multiple of 60, 1,440 datapoints, Unit filter; retention and roll-ups as AWS (1 s points 3 h, 60 s 15 days, 5 min 63 days, 1 h 455 days) and AWS's rule that an older StartTime needs a coarser period or returns no datapoints",
        "GetMetricData": "MetricStat (any statistic incl. extended) and Expression queries (metric math: arithmetic, comparisons, IF/AND/OR/NOT, METRICS(), SUM/AVG/MIN/MAX/STDDEV, RATE, DIFF, DIFF_TIME, FILL, RUNNING_SUM, TIME_SERIES, FIRST/LAST, SORT, SLICE, ABS/CEIL/FLOOR/LOG/LOG10/SQRT, PERIOD, SEARCH over stored metrics); ScanBy, Label, MaxDatapoints paging with PartialData; LabelOptions.Timezone and dynamic labels; expression runtime errors in Messages; ANOMALY_DETECTION_BAND(m, k) from a trained anomaly detector (created on first use, as AWS)",
        "ListMetrics": "Namespace, MetricName, Dimensions (name or name+value), RecentlyActive=PT3H, pages of 500; IncludeLinkedAccounts/OwningAccount not yet",
        "PutMetricAlarm": "on a metric (Statistic or ExtendedStatistic) or on Metrics (math); all comparison operators, M of N, TreatMissingData, EvaluateLowSampleCountPercentile; evaluated every minute by the scheduler (10 s for periods under a minute; --alarm-evaluation-interval caps it) with AWS's StateReason texts and StateReasonData; anomaly-band alarms (ThresholdMetricId, LessThanLowerOrGreaterThanUpperThreshold...) evaluated against the detector's band; PromQL (EvaluationCriteria) not yet",
        "PutCompositeAlarm": "AlarmRule (ALARM/OK/INSUFFICIENT_DATA, TRUE/FALSE, AND/OR/NOT, parentheses; AWS's limits), re-evaluated when a child changes; ActionsSuppressor with WaitPeriod and ExtensionPeriod (actions held, then run or suppressed, with Action history items)",
        "DescribeAlarms": "AlarmNames, AlarmNamePrefix, AlarmTypes (metric alarms only by default), StateValue, ActionPrefix, ChildrenOfAlarmName, ParentsOfAlarmName, MaxRecords/NextToken",
        "DescribeAlarmHistory": "StateUpdate, ConfigurationUpdate and Action items, 30 days, by name/type/alarm type/date range, ScanBy, paging",
        "SetAlarmState": "state, reason, StateReasonData (must be JSON, InvalidFormat), actions run",
        "TagResource": "alarms (by ARN), 50 tags",
        "PutDashboard": "body validated (widgets metric/text/log/alarm/explorer..., 24-column grid) with AWS's InvalidParameterInput message listing dataPath/message errors",
        "ListDashboards": "prefix, pages of 1,000",
    }),
    "kms": ("kms", "KMS", {
        "CreateKey": "symmetric encryption keys (KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT, Origin AWS_KMS): 256-bit material sealed by the server's master key; Description, Tags (TagException: aws: prefix, duplicates, over 50), Policy (kept for GetKeyPolicy, not evaluated); asymmetric, HMAC, multi-Region, external and custom key store keys answer UnsupportedOperationException",
        "DescribeKey": "by key id, key ARN, alias name or alias ARN; AWS's NotFoundException texts (Key '<arn>' does not exist, Invalid keyId '<id>', Alias <arn> is not found., Invalid arn <region>); naming a predefined alias/aws/<service> creates its AWS managed key, as AWS does",
        "Encrypt": "AES-256-GCM, up to 4096 bytes, the encryption context as authenticated data; the blob names its key; DisabledException / KMSInvalidStateException for a key that is not enabled",
        "Decrypt": "KeyId optional (the blob names it; another key: IncorrectKeyException); a wrong context, damaged blob or another account's blob: InvalidCiphertextException",
        "ReEncrypt": "decrypts under the source key and context, encrypts under the destination key; the plaintext never leaves the server",
        "GenerateDataKey": "KeySpec AES_128/AES_256 or NumberOfBytes 1-1024 (exactly one); Recipient (Nitro attestation) UnsupportedOperationException",
        "ScheduleKeyDeletion": "PendingWindowInDays 7-30 (default 30); the key and its aliases are deleted when the date passes; AWS managed keys refused",
        "CancelKeyDeletion": "the key is left Disabled, as AWS does",
        "CreateAlias": "alias/ prefix, alias/aws/ reserved (NotAuthorizedException), no ':' , targets a key not an alias, AlreadyExistsException",
        "ListAliases": "the account's aliases and the AWS managed ones created so far; KeyId filter, Limit/Marker",
        "ListKeys": "Limit 1-1000, Marker",
        "GetKeyPolicy": "the policy given at CreateKey or AWS's default key policy (key-default-1); not evaluated",
        "GetKeyRotationStatus": "KeyRotationEnabled, RotationPeriodInDays, NextRotationDate",
        "EnableKeyRotation": "RotationPeriodInDays 90-2560 (default 365); the rotation happens when the key is next used after its date (dated when due); old material is kept, so older ciphertexts decrypt; AWS managed keys: UnsupportedOperationException",
        "RotateKeyOnDemand": "new material now, up to 25 on-demand rotations (LimitExceededException)",
        "ListKeyRotations": "AUTOMATIC and ON_DEMAND rotations with their dates, Limit/Marker",
        "PutKeyPolicy": "kept and returned by GetKeyPolicy (must be a JSON object: MalformedPolicyDocumentException); not evaluated",
    }),
    "sns": ("sns", "SNS", {
        "CreateTopic": "idempotent by name (AWS's error when attributes or tags differ), standard and FIFO topics",
        "Subscribe": "http and https endpoints: SubscriptionConfirmation POSTed with Token and a SubscribeURL that confirms on a plain GET; other protocols answer InvalidParameter",
        "Publish": "Subject, MessageAttributes, MessageStructure=json; signed Notification POSTs (SignatureVersion 1 or 2, certificate served at SigningCertURL) on a delivery thread with the delivery policy's retries; FIFO group/dedup ids",
        "ListTopics": "pages of 100",
    }),
    "s3": ("s3", "S3", {
        "CreateBucket": "name rules, LocationConstraint vs the signing region, BucketAlreadyOwnedByYou / BucketAlreadyExists (409); bucket names global, owned by one account",
        "DeleteBucket": "BucketNotEmpty (409) while objects remain; drops the bucket's policy and its multipart uploads in progress (parts too)",
        "HeadBucket": "needs s3:ListBucket",
        "GetBucketLocation": "empty element for us-east-1",
        "PutObject": "Content-MD5 (BadDigest/InvalidDigest), x-amz-meta-*, Content-Type; signed, UNSIGNED-PAYLOAD and aws-chunked (every chunk signature verified) payloads; bodies above 8 MiB streamed to disk, up to 5 GiB (EntityTooLarge); additional checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) verified as a header or an aws-chunked trailer (signed trailers: x-amz-trailer-signature checked) while the body streams (BadDigest, InvalidRequest for a malformed or second value, MalformedTrailerError for a missing trailer), computed for x-amz-sdk-checksum-algorithm alone, CRC64NVME by default, stored and echoed; SHA512/MD5/XXHASH* NotImplemented; stored encrypted at rest (AES-256-CTR, per-file data key sealed by the server's master key, or for SSE-KMS wrapped by the object's KMS key); x-amz-server-side-encryption AES256 or aws:kms (SSE-KMS with the account's AWS managed key aws/s3 (when none is named) or a KMS key of the bucket owner's account by id, ARN, alias or alias ARN; a missing key KMS.NotFoundException, a disabled / pending-deletion one KMS.DisabledException / KMS.KMSInvalidStateException; an anonymous SSE-KMS request InvalidArgument, a key of another account than the caller's AccessDenied (key policies not evaluated); x-amz-server-side-encryption-context and bucket-key-enabled kept and answered), else the bucket's default; aws:kms:dsse and SSE-C NotImplemented, other values InvalidArgument; a spooled body is encrypted as it is written to disk; conditional writes: If-None-Match: * (PreconditionFailed 412 when the key exists) and If-Match: <etag> (412 for another ETag, NoSuchKey 404 for no object, ConditionalRequestConflict 409 when the object is deleted while the body is written), checked before the body is stored and again atomically with the commit (racing create-only writers: one wins, the others get 412); another If-None-Match value, or both headers, NotImplemented (501); condition keys s3:if-match / s3:if-none-match",
        "GetObject": "single Range (206, InvalidRange 416), If-Match/If-None-Match/If-Modified-Since/If-Unmodified-Since (304/412), response-* overrides; the body (whole or range) is streamed from the object's file in 512 KB chunks, never held in memory, and a download that started keeps its bytes if the object is overwritten or deleted meanwhile; each chunk decrypted at its offset (ranges need no read from the start); ServerSideEncryption AES256 (not on objects stored before encryption at rest, which stay plaintext), or aws:kms with SSEKMSKeyId (the key must be usable: KMS.DisabledException / KMS.KMSInvalidStateException otherwise; HeadObject still answers); the stored checksum and x-amz-checksum-type with x-amz-checksum-mode ENABLED (not for a Range, not for objects stored before checksums); partNumber (1-10,000, else InvalidArgument; with Range InvalidRequest): a multipart object's part (its number as uploaded) as 206 with Content-Range and x-amz-mp-parts-count, the part's own checksum for a COMPOSITE one (none for FULL_OBJECT), InvalidPartNumber (416) for a part it does not have; a single-part object (and a multipart one stored before part layouts were kept) is its own part 1",
        "HeadObject": "as GetObject without the body (partNumber included)",
        "GetObjectAttributes": "ETag (unquoted), Checksum (with ChecksumType), ObjectParts (multipart objects only: TotalPartsCount, PartNumberMarker / MaxParts paging up to 1,000, Parts with PartNumber, Size and the part's checksum when the upload had a checksum algorithm), StorageClass, ObjectSize, Last-Modified; only the attributes asked for; InvalidRequest without any; needs s3:GetObject and s3:GetObjectAttributes; NoSuchKey, or AccessDenied without s3:ListBucket, as S3",
        "CopyObject": "metadata directive COPY/REPLACE, copy-source conditions; s3:GetObject on the source and s3:PutObject on the target (bucket policies may span accounts); copied file to file, decrypted and re-encrypted under the copy's own data key; encrypted as the request's x-amz-server-side-encryption headers say (AES256, aws:kms as PutObject), else by the destination bucket's default, not as the source; aws:kms:dsse and SSE-C NotImplemented; the copy's checksum computed as it is written (x-amz-checksum-algorithm, else the source's algorithm, else CRC64NVME); If-None-Match / If-Match on the destination as PutObject; a copy is a single-part object",
        "DeleteObjects": "Quiet; no versioning; s3:DeleteObject decided per key (AccessDenied entries in Errors)",
        "ListObjects": "prefix, delimiter, marker, max-keys, encoding-type=url; ordered range scan",
        "ListObjectsV2": "continuation-token, start-after, fetch-owner, KeyCount; ChecksumAlgorithm/ChecksumType per object",
        "ListBuckets": "the caller's buckets; prefix (no pagination)",
        "CreateMultipartUpload": "content type, x-amz-meta-* and Cache-Control/Content-Disposition/Content-Encoding/Content-Language given here go to the completed object; upload ids sort by initiation time; x-amz-checksum-algorithm and x-amz-checksum-type kept and answered (COMPOSITE by default, FULL_OBJECT for CRC64NVME; S3's InvalidRequest for FULL_OBJECT with SHA, COMPOSITE with CRC64NVME, a type without an algorithm); x-amz-server-side-encryption as PutObject; answers ServerSideEncryption AES256",
        "UploadPart": "part numbers 1-10,000 (InvalidArgument), Content-MD5, NoSuchUpload; each part a durable file (fsync before the answer); a part uploaded again replaces the earlier one; bodies above 8 MiB streamed to disk, up to 5 GiB (EntityTooLarge); part files encrypted like objects; ServerSideEncryption AES256; part checksums as PutObject's, of the upload's algorithm (computed when not sent; another algorithm: InvalidRequest), echoed",
        "UploadPartCopy": "x-amz-copy-source with its If-* conditions and x-amz-copy-source-range bytes=first-last (InvalidArgument outside the source), copied file to file (decrypted, re-encrypted under the part's key); ServerSideEncryption AES256; the part's checksum computed with the upload's algorithm",
        "CompleteMultipartUpload": "InvalidPartOrder, InvalidPart (unknown part or ETag), EntityTooSmall (parts but the last under 5 MiB), NoSuchUpload; S3's ETag (MD5 of the part MD5s, -N); the object is assembled by streaming the part files and committed in one batch with the upload's removal (parts decrypted and re-encrypted under the object's key, 1 MiB at a time); ServerSideEncryption AES256; checksums: COMPOSITE (checksum of the part checksums, -N; every part's checksum must be listed: InvalidRequest, and match: InvalidPart) or FULL_OBJECT (computed while the parts are assembled; CRC64NVME for uploads created without an algorithm), a checksum header checked (BadDigest); x-amz-mp-object-size checked (InvalidRequest); the object keeps its part layout (numbers, sizes, checksums) for partNumber reads and GetObjectAttributes; If-None-Match / If-Match as PutObject, checked before assembly and again at the commit: a 412 leaves the upload to be completed again, a 409 (ConditionalRequestConflict) ends it, as S3 asks for a new upload then",
        "AbortMultipartUpload": "204; NoSuchUpload; removes the parts' files",
        "ListMultipartUploads": "prefix, delimiter, key-marker / upload-id-marker paging, max-uploads (1,000), encoding-type=url; key then initiation order",
        "ListParts": "part-number-marker / max-parts paging (1,000); part checksums, the upload's ChecksumAlgorithm and ChecksumType",
        "PutBucketPolicy": "S3's MalformedPolicy validation (JSON, Statement/Effect/Principal/Action/Resource, resources of this bucket, actions that apply to them, condition operators); 204; enforced on every S3 request (see above) and for service principals writing into the bucket (CloudTrail delivery); another account the policy allows gets MethodNotAllowed (405)",
        "GetBucketPolicy": "the document as put; NoSuchBucketPolicy (404) when none",
        "DeleteBucketPolicy": "204, also when there is none; deleting the bucket deletes its policy",
        "PutBucketEncryption": "s3:PutEncryptionConfiguration; one rule, SSEAlgorithm AES256 or aws:kms with an optional KMSMasterKeyID (kept as given and checked when a write uses it, as S3 does) and BucketKeyEnabled; applied to writes without encryption headers, CloudTrail's deliveries included; aws:kms:dsse NotImplemented (501), other algorithms or a rule without a default MalformedXML",
        "GetBucketEncryption": "s3:GetEncryptionConfiguration; the configuration put, or S3's default rule (AES256, BucketKeyEnabled false) when none",
        "DeleteBucketEncryption": "s3:PutEncryptionConfiguration (IAM has no delete action); 204; back to the default rule; deleting the bucket deletes its configuration",
    }),
}

# A paragraph under a service's heading.
INTRO = {
    "s3": "Path-style and virtual-hosted-style addressing (Host `<bucket>.<name>` for `localhost`, "
          "`s3.localhost`, `localhost.localstack.cloud`, `s3.localhost.localstack.cloud`, "
          "`s3.amazonaws.com`, `s3.<region>.amazonaws.com`, `s3-<region>.amazonaws.com`, "
          "`s3.dualstack.<region>.amazonaws.com`; the config's `s3_virtual_host_suffixes` replaces "
          "the list). Bucket policies are enforced on every request: the owner account is allowed "
          "unless a statement denies (its root user always keeps Get/Put/DeleteBucketPolicy), "
          "other accounts need an Allow; each operation is checked as its IAM action "
          "(s3:GetObject, s3:PutObject, s3:ListBucket, s3:DeleteObject, s3:ListBucketMultipartUploads, "
          "s3:ListMultipartUploadParts, s3:AbortMultipartUpload, s3:GetBucketLocation, s3:DeleteBucket, "
          "s3:*BucketPolicy, s3:PutEncryptionConfiguration, s3:GetEncryptionConfiguration, s3:GetObjectAttributes) on arn:aws:s3:::bucket or arn:aws:s3:::bucket/key, with the condition keys "
          "aws:SecureTransport (false: plain HTTP), aws:SourceIp, aws:PrincipalAccount, aws:PrincipalArn, "
          "aws:PrincipalType, aws:userid, aws:username, aws:RequestedRegion, aws:ResourceAccount, "
          "s3:ResourceAccount, s3:signatureversion, s3:prefix, s3:delimiter, s3:max-keys, s3:x-amz-acl, "
          "s3:x-amz-server-side-encryption, s3:x-amz-storage-class, s3:x-amz-copy-source, "
          "s3:x-amz-metadata-directive, s3:if-match, s3:if-none-match, and aws:CurrentTime / aws:EpochTime (the request's time) for the "
          "Date* operators (every IAM condition operator is evaluated). There are no identity policies yet, so an account's own users "
          "hold every permission on its buckets. Requests are signed with SigV4, or unsigned: an anonymous "
          "request may do only what the bucket policy grants Principal \"*\" (or {\"AWS\": \"*\"}; "
          "aws:PrincipalType Anonymous), else S3's 403 AccessDenied, and never ListBuckets or "
          "CreateBucket; CloudTrail records it in the bucket owner's history as AWSAccount "
          "\"anonymous\". A SigV2 request (header or presigned URL, as AWS CLI v1's `aws s3 presign` "
          "makes) 400 InvalidRequest asking for AWS4-HMAC-SHA256, as S3 answers for buckets that only "
          "take SigV4. Errors carry S3's own members (BucketName, Key, UploadId, PartNumber, ETag, "
          "RangeRequested, ActualObjectSize, PartNumberRequested, ActualPartCount, ArgumentName, "
          "ArgumentValue, Condition, AWSAccessKeyId...). Object bodies are streamed both ways: GetObject from "
          "the object's file, and a PutObject or UploadPart body above 8 MiB (or sent with "
          "Transfer-Encoding: chunked) to a spool file next to the objects, never whole in memory, up "
          "to S3's 5 GiB (EntityTooLarge above, before the body when Content-Length or "
          "x-amz-decoded-content-length says so; a head whose signature fails is answered, with S3's "
          "error and no 100 Continue, before the body too, and an upload is judged as of its head, "
          "so one longer than the 15-minute skew window lands); other requests keep the listener's 64 MB in-memory "
          "limit. Multipart upload makes larger objects (10,000 parts). Every object and part is "
          "encrypted at rest (AES-256-CTR under a per-file data key sealed by the server's "
          "master key `<data-dir>/s3/.master-key`; spooled bodies encrypted as they are written), "
          "as SSE-S3 (AES256, the default) or SSE-KMS (aws:kms) with the account's AWS managed key "
          "aws/s3 (whose id is derived from the master key) or a customer managed key of the KMS service "
          "(by key id, key ARN, alias or alias ARN), whose data key the object's KMS key wraps "
          "(envelope encryption: the master key alone does not open it, a deleted key shreds it): "
          "a write, a GET or a copy of an object whose key is "
          "disabled or pending deletion fails with KMS.DisabledException / KMS.KMSInvalidStateException "
          "(HEAD answers), a missing key is KMS.NotFoundException. "
          "DSSE-KMS and SSE-C answer NotImplemented.",
}


def served_operations(folder):
    ops = set()
    for path in glob.glob(os.path.join(ROOT, "src", "services", folder, "*.cpp")):
        ops |= set(re.findall(r'\b(?:on|op|void_op)\("([A-Za-z0-9]+)"', open(path).read()))
    return ops


def main():
    lines = ["# Coverage", "",
             "Every operation of every service model Vigil embeds, and its status. Generated by",
             "`tools/gen_coverage.py` from the handlers registered in `src/services/`.", "",
             "- **served**: implemented with AWS's semantics, validation and errors.",
             "- **not yet**: answers `UnknownOperationException` (JSON, CBOR), `InvalidAction` (query) or",
             "  `NotImplemented` (501, S3), AWS's error for an operation the endpoint does not support.", ""]
    for schema, (folder, title, notes) in SERVICES.items():
        model = json.load(open(os.path.join(ROOT, "schema", schema + ".json")))
        served = served_operations(folder)
        ops = sorted(model["operations"])
        lines += ["## %s (`%s`, %d of %d operations served)" % (title, schema, len(served & set(ops)), len(ops)), ""]
        if schema in INTRO:
            lines += [INTRO[schema], ""]
        lines += [
                  "| operation | status | notes |", "|---|---|---|"]
        for op in ops:
            lines.append("| %s | %s | %s |" % (op, "served" if op in served else "not yet", notes.get(op, "")))
        lines.append("")
    with open(os.path.join(ROOT, "docs", "coverage.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
