// PutMetricData's smithy rpc-v2-cbor fast path: a hand-written decoder straight from the
// (already inflated) CBOR body into the handler's PutMetricDataInput, the CBOR twin of
// decode_put_metric_data (awsJson). The generic path (cbor::decode into a Value tree, then
// CborCodec's conversion to the input shape, then protocol::validate_input's model walk)
// allocates a node, a key and often a string per member, which dominated the profile of a
// 1 000-datum call.
//
// The decoder accepts only bodies the generic path accepts, producing the identical input
// (what put_metric_data_input makes of the generic Value), and declines everything else or
// unusual: malformed or truncated CBOR, trailing bytes, indefinite-length strings, tags other
// than tag 1 (epoch time) on Timestamp, nulls/undefined/other simple values, wrong types,
// duplicate or unknown members, EntityMetricData in any form, broken model constraints. A
// declined body takes the generic path, which answers the exact error. Checked against the
// generic path by tests/unit/put_metric_data_cbor_fast_path_test.cpp and
// fuzz/put_metric_data_cbor_fuzz.cpp.
// Semantic checks (AWS/ namespaces, NaN, sizes, timestamps) are NOT done here: both paths feed
// CloudWatchService::store_metric_data, which does them once.
//
// Cost: one forward pass over the bytes (UTF-8 checked 8 ASCII bytes at a time); no
// allocation but the growth of `out`'s strings and vectors beyond what a previous call left
// them, so a steady stream of similar calls into a reused input allocates nothing.
#pragma once

#include <string_view>

#include "services/cloudwatch/put_metric_data_decoder.h"

namespace vigil::cloudwatch {

// True when `body` is an rpc-v2-cbor PutMetricData request the generic path accepts; `out`
// then holds what put_metric_data_input would make of it. False (decline): `out` is
// unspecified (but still reusable) and the caller must take the generic path.
bool decode_put_metric_data_cbor(std::string_view body, PutMetricDataInput& out);

}  // namespace vigil::cloudwatch
