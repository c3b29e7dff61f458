// Request bodies sent with Content-Encoding: gzip (botocore compresses PutMetricData bodies of
// 10 KiB or more, in every protocol). The listener hands the body on as received because the
// SigV4 payload hash covers the compressed bytes and because for S3 Content-Encoding is object
// metadata, not a transport framing; a service whose clients compress requests inflates them
// after authentication (Service::unwrap_payload) with this.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::http {

// Whether the request's Content-Encoding lists gzip.
bool is_gzip_encoded(std::string_view content_encoding);

// The inflated body, or nullopt if it is not valid gzip (or zlib) or inflates to more than
// max_bytes (a small body must not expand into gigabytes).
std::optional<std::string> gunzip(std::string_view compressed, size_t max_bytes);

}  // namespace vigil::http
