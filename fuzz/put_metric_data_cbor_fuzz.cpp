// libFuzzer: PutMetricData's hand-written rpc-v2-cbor decoder (services/cloudwatch/
// put_metric_data_cbor_decoder) against the generic path (CborCodec::decode_request +
// validate_input with the cloudwatch model, then put_metric_data_input). Whatever the fast
// decoder accepts, the generic path must accept with the identical PutMetricDataInput (doubles
// compared by their bits: NaN is a valid CBOR number); what it declines goes to the generic
// path in the server, so declining is always safe. The decoder also runs into an input reused
// across runs (as the server's per-thread one is), which must give the same result as a fresh
// one.
//
// The first byte picks how the rest is used: as the whole body, or spliced as a raw CBOR item
// into a valid body (the namespace, a metric name, a dimension, a number, a timestamp, the
// datum list, extra datums, a datum's or the root's members in indefinite maps), or as the
// bytes of a text string (UTF-8 and length edges), so the fuzzer reaches deep into the
// structure without a corpus.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/aws_error.h"
#include "core/http_message.h"
#include "protocol/cbor.h"
#include "protocol/cbor_codec.h"
#include "protocol/schema.h"
#include "protocol/validate.h"
#include "services/cloudwatch/put_metric_data_cbor_decoder.h"

namespace {

using namespace vigil;

struct Fixture {
  const protocol::ServiceModel* model = nullptr;
  std::unique_ptr<protocol::CborCodec> codec;
  const protocol::Operation* operation = nullptr;
  cloudwatch::PutMetricDataInput reused;
  Fixture() {
    model = protocol::embedded_model("cloudwatch");
    if (!model) std::abort();
    codec = std::make_unique<protocol::CborCodec>(*model);
    operation = model->operation("PutMetricData");
    if (!operation) std::abort();
  }
};

bool same(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
bool same(const std::optional<double>& a, const std::optional<double>& b) { return a.has_value() == b.has_value() && (!a || same(*a, *b)); }
bool same(const std::optional<std::vector<double>>& a, const std::optional<std::vector<double>>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  if (a->size() != b->size()) return false;
  for (size_t i = 0; i < a->size(); ++i)
    if (!same((*a)[i], (*b)[i])) return false;
  return true;
}
bool same(const cloudwatch::MetricDatumInput& a, const cloudwatch::MetricDatumInput& b) {
  if (a.statistic_values.has_value() != b.statistic_values.has_value()) return false;
  if (a.statistic_values) {
    const auto &x = *a.statistic_values, &y = *b.statistic_values;
    if (!same(x.sample_count, y.sample_count) || !same(x.sum, y.sum) || !same(x.minimum, y.minimum) || !same(x.maximum, y.maximum)) return false;
  }
  return a.metric_name == b.metric_name && a.dimensions == b.dimensions && same(a.timestamp_s, b.timestamp_s) && same(a.value, b.value) &&
         same(a.values, b.values) && same(a.counts, b.counts) && a.unit == b.unit && a.storage_resolution == b.storage_resolution;
}
bool same(const cloudwatch::PutMetricDataInput& a, const cloudwatch::PutMetricDataInput& b) {
  if (a.namespace_ != b.namespace_ || a.has_entity_metric_data != b.has_entity_metric_data) return false;
  if (a.metric_data.has_value() != b.metric_data.has_value()) return false;
  if (!a.metric_data) return true;
  if (a.metric_data->size() != b.metric_data->size()) return false;
  for (size_t i = 0; i < a.metric_data->size(); ++i)
    if (!same((*a.metric_data)[i], (*b.metric_data)[i])) return false;
  return true;
}

std::string text(std::string_view s) {
  std::string out;
  protocol::cbor::Writer(out).text(s);
  return out;
}

std::string body_for(uint8_t mode, const std::string& fuzz) {
  // A valid datum: {MetricName: "m", Dimensions: [{Name: "a", Value: "b"}], Timestamp: 1(1700000000), Value: 1.5}
  const std::string datum = "\xa4" + text("MetricName") + text("m") + text("Dimensions") + "\x81\xa2" + text("Name") + text("a") + text("Value") +
                            text("b") + text("Timestamp") + std::string("\xc1\x1a\x65\x53\xf1\x00", 6) + text("Value") + std::string("\xf9\x3e\x00", 3);
  const std::string ns = text("Namespace") + text("ns");
  const std::string data = text("MetricData");
  switch (mode % 14) {
    case 0: return fuzz;
    case 1: return "\xa2" + text("Namespace") + fuzz + data + "\x81" + datum;
    case 2: return "\xa2" + ns + data + "\x81\xa2" + text("MetricName") + fuzz + text("Value") + "\x01";
    case 3: return "\xa2" + ns + data + "\x81\xa2" + text("MetricName") + text("m") + text("Dimensions") + "\x81\xa2" + text("Name") + fuzz + text("Value") + text("v");
    case 4: return "\xa2" + ns + data + "\x81\xa2" + text("MetricName") + text("m") + text("Value") + fuzz;
    case 5: return "\xa2" + ns + data + "\x81\xa3" + text("MetricName") + text("m") + text("StorageResolution") + fuzz + text("Timestamp") + fuzz;
    case 6: return "\xa2" + ns + data + fuzz;
    case 7: return "\xa2" + ns + data + "\x9f" + datum + fuzz + "\xff";
    case 8: return "\xa2" + ns + data + "\x81\xbf" + text("MetricName") + text("m") + fuzz + "\xff";
    case 9: return "\xbf" + ns + data + "\x81" + datum + fuzz + "\xff";
    case 10: return "\xa2" + text("Namespace") + text(fuzz) + data + "\x81" + datum;
    case 11: return "\xa2" + ns + data + "\x81\xa2" + text("MetricName") + text("m") + text("Dimensions") + "\x81\xa2" + text("Name") + text("n") + text("Value") + text(fuzz);
    case 12: return "\xa2" + ns + data + "\x81\xa2" + text("MetricName") + text("m") + text("Unit") + text(fuzz);
    default: return "\xa2" + ns + data + "\x81\xa2" + text("MetricName") + text("m") + text("Values") + fuzz;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  if (size < 1 || size > 256 * 1024) return 0;
  std::string body = body_for(data[0], std::string(reinterpret_cast<const char*>(data + 1), size - 1));

  cloudwatch::PutMetricDataInput fast;
  bool accepted = cloudwatch::decode_put_metric_data_cbor(body, fast);
  bool accepted_reused = cloudwatch::decode_put_metric_data_cbor(body, fx.reused);
  if (accepted != accepted_reused || (accepted && !same(fast, fx.reused))) std::abort();  // stale state survived a reuse

  HttpRequest request;
  request.method = "POST";
  request.path = "/service/GraniteServiceVersion20100801/operation/PutMetricData";
  request.headers = {{"smithy-protocol", "rpc-v2-cbor"}, {"content-type", "application/cbor"}};
  request.body = body;
  cloudwatch::PutMetricDataInput generic;
  try {
    Value input = fx.codec->decode_request(request, *fx.operation);
    protocol::validate_input(input, fx.operation->input, "ValidationError");
    generic = cloudwatch::put_metric_data_input(input);
  } catch (const AwsError&) {
    if (accepted) std::abort();  // the fast decoder accepted a body the generic path rejects
    return 0;
  }
  if (accepted && !same(fast, generic)) std::abort();  // accepted, but decoded differently
  return 0;
}
