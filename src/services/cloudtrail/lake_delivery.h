// Delivery of a finished Lake query's results to S3 (StartQuery's DeliveryS3Uri), in the layout
// AWS documents ("Download saved query results", "CloudTrail sign file structure"):
//
//   s3://bucket/[prefix/]AWSLogs/<account>/CloudTrail-Lake/Query/YYYY/MM/DD/<query id>/
//       result_1.csv.gz, result_2.csv.gz, ...   the rows as gzip CSV, a header row first
//       result_sign.json                         {"version":"1.0","region","files":[{fileHashValue
//                                                (SHA-256 hex of the compressed file), fileName}],
//                                                "hashAlgorithm":"SHA-256","signatureAlgorithm":
//                                                "SHA256withRSA","queryCompleteTime","hashSignature",
//                                                "publicKeyFingerprint"}
//
// hashSignature is SHA256withRSA over the files' hashes joined by single spaces, with the
// account-and-region key that also signs trail digests (signing_keys.h), so ListPublicKeys and
// `aws cloudtrail verify-query-results` check it. The date folders are the delivery's UTC date.
//
// Not documented by AWS, chosen here: a result file is closed once it holds
// `max_file_bytes` of CSV (default 256 MB, the results Vigil keeps per query, so one file
// unless that is lowered); CSV quoting is RFC 4180 (quotes around a field holding a comma,
// quote, CR or LF; quotes doubled); NULL is an empty field, as GetQueryResults shows it ("");
// a query without rows gets one empty result file (no header: the columns come from the rows).
//
// Rows are read from the store one at a time and compressed into the object's file as they
// come: nothing holds the whole result. CloudTrail's bucket access is AWS's (trails.h): the
// bucket policy must let cloudtrail.amazonaws.com (aws:SourceArn = the queried event data
// store) do s3:GetBucketAcl and s3:PutObject on each key, checked before each object.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "services/cloudtrail/signing_keys.h"
#include "services/s3/object_store.h"

namespace vigil::cloudtrail {

struct DeliveryTarget {
  std::string bucket, prefix;  // prefix without leading or trailing '/', may be empty
};

// s3://bucket[/prefix] -> bucket and prefix; InvalidS3BucketNameException /
// InvalidS3PrefixException (AWS's errors of StartQuery) for what S3 would refuse.
DeliveryTarget parse_delivery_uri(std::string_view uri);

// "[prefix/]AWSLogs/<account>/CloudTrail-Lake/Query/YYYY/MM/DD/<query id>/" for the UTC date of `when`.
std::string delivery_folder(const DeliveryTarget& target, const std::string& account, const std::string& query_id, double when);

// One CSV field (RFC 4180).
std::string csv_field(std::string_view value);

struct DeliveryRequest {
  std::string account, region, query_id;
  std::string source_arn;  // the event data store the query ran on (aws:SourceArn)
  DeliveryTarget target;
  bool policy_required = true;  // a bucket without a policy is refused (AWS); false: its owner's own bucket is fine
  uint64_t max_file_bytes = 256ull << 20;
};

// Calls `row` with each result row in order (column name, value), until it returns false.
using ResultRows = std::function<void(const std::function<bool(const std::vector<std::pair<std::string, std::string>>&)>& row)>;

// Writes the result files and the sign file; returns DescribeQuery's DeliveryStatus: SUCCESS,
// RESOURCE_NOT_FOUND (no bucket), ACCESS_DENIED / ACCESS_DENIED_SIGNING_FILE (the policy refused
// a result file / the sign file), FAILED / FAILED_SIGNING_FILE (a write failed).
std::string deliver_query_results(s3::ObjectStore& objects, SigningKeys& keys, const DeliveryRequest& request, const ResultRows& rows,
                                  double now);

}  // namespace vigil::cloudtrail
