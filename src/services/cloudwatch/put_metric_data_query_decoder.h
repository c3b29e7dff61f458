// PutMetricData's AWS query fast path: a hand-written decoder from the form-encoded POST body
// (what awscli and boto3 send for CloudWatch's query protocol) straight into
// PutMetricDataInput, without QueryCodec's parameter list, name tree and Value tree and the
// model walk of validate_input (which together dominated a 1 000-datum call: ~6 000 pairs,
// each a few strings and map nodes).
//
// It accepts exactly what the generic path (QueryCodec::decode_request + validate_input with
// the cloudwatch model, then put_metric_data_input) accepts, producing the identical input,
// and declines everything it does not reproduce trivially; a declined body takes the generic
// path, which answers the exact error. It takes the layout botocore's QuerySerializer writes:
//   Action=PutMetricData&Version=2010-08-01&Namespace=ns
//   &MetricData.member.1.MetricName=m&MetricData.member.1.Dimensions.member.1.Name=n&...
// with the members of each datum (and of each dimension) in any order but contiguous, datum
// and dimension indices counting 1, 2, 3, ... and `List=` for an empty list. It declines:
//  - any parameter it does not know (EntityMetricData, unknown members, a value on a structure
//    such as `MetricData.member.1=x`), percent-encoded or '+' characters in a parameter name,
//    an empty name;
//  - a repeated parameter (the generic path keeps the last), list indices out of order, with
//    gaps, with leading zeros or starting anywhere but 1, `List=` with a value or together
//    with items;
//  - what the model rejects: Namespace missing, not 1-255 characters or starting with ':';
//    MetricName missing or not 1-255 characters; more than 30 dimensions; a dimension without
//    Name (1-255) or Value (1-1024); a StatisticValues without its four members; a Unit not in
//    StandardUnit; StorageResolution not an int32 >= 1; numbers and timestamps the generic
//    parser rejects; StrictEntityValidation not a boolean;
//  - strings that are not valid UTF-8 (the generic path would take some of them);
//  - the double "NaN" (accepted by the generic path, but never equal to itself).
// Semantic checks (AWS/ namespaces, sizes, timestamp ranges, units) are NOT done here: both
// paths feed CloudWatchService::store_metric_data, which does them once.
//
// Checked against the generic path by tests/unit/put_metric_data_query_fast_path_test.cpp and
// fuzz/put_metric_data_query_fuzz.cpp.
#pragma once

#include <string_view>

#include "services/cloudwatch/put_metric_data_decoder.h"

namespace vigil::cloudwatch {

// True when `body` (the whole form: the URL has no query string) is a query PutMetricData
// request the generic path accepts; `out` then holds what put_metric_data_input would make of
// it. False (decline): `out` is unspecified and the caller must take the generic path. `out`
// may be reused across calls: its strings and vectors keep their buffers.
//
// Cost: one pass over the body, no copy of it; parameter names are matched in place, values
// percent-decoded straight into their destination (strings) or a stack buffer (numbers,
// timestamps, units). Per datum no allocation beyond growing the reused strings and vectors.
bool decode_put_metric_data_query(std::string_view body, PutMetricDataInput& out);

}  // namespace vigil::cloudwatch
