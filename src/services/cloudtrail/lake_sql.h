// CloudTrail Lake's query language (Trino's SELECT) rewritten into SQLite's dialect.
//
// Lake queries are Trino SQL over a table named by an event data store's ID (or ARN). We do
// not write a SQL engine: SQLite runs the query (lake_engine.h) over a virtual table of the
// store's events, and this file makes the small, token-level rewrite that gets there:
//
//   FROM <id or ARN>            -> FROM eds_<n>        (the resolver says which store; n is the
//                                                        store's position in `targets`)
//   userIdentity.arn            -> json_extract(userIdentity, '$."arn"')   (nested fields of the
//   e.requestParameters.bucketName -> json_extract(e.requestParameters, ...)  struct/map columns)
//   TIMESTAMP '2024-01-02 ...'  -> '2024-01-02 03:04:05.000'   (Lake's timestamp text form)
//   '2024-01-02T03:04:05Z'      -> '2024-01-02 03:04:05.000'   (a literal that is a full
//                                                               timestamp, as Trino coerces it)
//   current_timestamp           -> now()
//   <primary> - INTERVAL '3' DAY -> date_add('day', -3, <primary>)
//
// Everything else passes through: SQLite already has SELECT/WHERE/GROUP BY/HAVING/ORDER BY/
// LIMIT/DISTINCT, the aggregates, IS DISTINCT FROM, UNION/INTERSECT/EXCEPT, joins; the Trino
// functions Lake users reach for (from_iso8601_timestamp, date_trunc, date_add, element_at,
// ...) are SQLite functions registered by the engine. Timestamps are text in Lake's own
// format 'YYYY-MM-DD HH:MM:SS.mmm' (UTC), whose text order is time order, so comparisons and
// ORDER BY on eventTime need no conversion.
//
// Only a SELECT (or WITH ... SELECT) is accepted here; the engine enforces it again with a
// read-only connection and an authorizer. Costs one pass over the statement (at most 10,000
// characters, the model's limit).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::cloudtrail {

// A statement Lake refuses (InvalidQueryStatementException at the edge).
class LakeSqlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LakeSql {
  std::string sql;                   // SQLite's statement
  std::vector<std::string> targets;  // what each eds_<n> resolved to (resolver's answer)
  // json_extract(...) expressions made from dotted fields -> the field's name, so that an
  // unaliased `userIdentity.arn` result column is named `arn`, as Trino names it.
  std::vector<std::pair<std::string, std::string>> derived_names;
  // StartQuery's QueryParameters, bound (never pasted) to the statement's `?` placeholders in
  // order, after lake_parameter_value(). The engine checks that the counts match.
  std::vector<std::string> parameters;
};

// A parameter's value as the engine binds it: a full timestamp becomes Lake's timestamp text,
// as a timestamp literal in the statement does; anything else stays as given.
std::string lake_parameter_value(std::string_view value);

// The statement with each `?` placeholder (outside literals, quoted names and comments) shown
// as the SQL string literal of its parameter: DescribeQuery's QueryString of a parameterized
// query. Display only; the engine binds the parameters.
std::string lake_statement_with_parameters(std::string_view statement, const std::vector<std::string>& parameters);

// Maps a FROM target (an ID or ARN as written) to the store it names, or throws (the caller's
// AwsError: EventDataStoreNotFoundException...). The answer identifies the store; the same
// answer twice reuses one table.
using LakeTargetResolver = std::function<std::string(std::string_view target)>;

LakeSql rewrite_lake_sql(std::string_view statement, const LakeTargetResolver& resolve);

// The columns of a Lake event table (CloudTrail's event schema), in table order. Struct and
// map columns hold JSON text; booleans are 0/1; eventTime is Lake timestamp text.
struct LakeColumn {
  const char* name;        // as Lake spells it (SQLite matches names case-insensitively)
  const char* record_key;  // the member of the CloudTrail record it comes from
  enum Kind { Text, Json, Boolean, Time } kind;
};
const std::vector<LakeColumn>& lake_columns();

// Lake timestamp text <-> epoch milliseconds. Parsing accepts 'YYYY-MM-DD', 'YYYY-MM-DD
// HH:MM[:SS[.fff]]' and the ISO 8601 forms with 'T' and a 'Z' or +hh:mm offset; nullopt for
// anything else (never throws).
std::optional<int64_t> parse_lake_time(std::string_view text);
std::string format_lake_time(int64_t millis);

}  // namespace vigil::cloudtrail
