// `vigil trail validate`: CloudTrail log file integrity validation without the AWS CLI, with
// the CLI's output and exit status (services/cloudtrail/log_validator.h does the work).
//
//   vigil trail validate --trail-arn ARN --start-time T [--end-time T] [--verbose]
//                        [--region R] [--s3-bucket B [--s3-prefix P]]
//                        (--endpoint URL | --data-dir DIR)
//
// --endpoint URL (default: $AWS_ENDPOINT_URL): a running Vigil (or anything speaking
//   CloudTrail JSON 1.1 and path-style S3), called with SigV4-signed requests made with
//   $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY (default test/test, $AWS_SESSION_TOKEN if set):
//   DescribeTrails, GetBucketLocation, ListObjects, ListPublicKeys, GetObject, as the CLI does.
// --data-dir DIR: a *stopped* Vigil's data directory, read in place (the store's trail,
//   object and signing key records plus the object files under DIR/s3). A running server
//   holds the store's lock: use --endpoint for it.
// The region (the CLI's --region) is --region, else $AWS_REGION, else $AWS_DEFAULT_REGION,
// else the ARN's region.
#pragma once

namespace vigil::tools {

// argv[0] is the program, argv[1] "trail", argv[2] "validate". Returns the exit status:
// 0 all valid, 1 something invalid or missing, 255 aborted, 2 bad command line.
int trail_validate_main(int argc, char** argv);

}  // namespace vigil::tools
