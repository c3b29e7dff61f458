// ARNs: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE.
#pragma once

#include <optional>
#include <string_view>

namespace vigil {

struct ArnParts {
  std::string_view partition, service, region, account, resource;  // views into the ARN
};

// Splits an ARN at its first five colons (the resource keeps any further ones); nullopt unless
// it starts with "arn:" and has all five. The fields are not checked: each service knows what
// it accepts.
inline std::optional<ArnParts> split_arn(std::string_view arn) {
  std::string_view fields[5];
  size_t start = 0;
  for (auto& field : fields) {
    size_t colon = arn.find(':', start);
    if (colon == std::string_view::npos) return std::nullopt;
    field = arn.substr(start, colon - start);
    start = colon + 1;
  }
  if (fields[0] != "arn") return std::nullopt;
  return ArnParts{fields[1], fields[2], fields[3], fields[4], arn.substr(start)};
}

}  // namespace vigil
