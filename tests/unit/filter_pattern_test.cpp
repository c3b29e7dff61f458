// Filter patterns, checked against the examples of AWS's "Filter pattern syntax" guide
// (quoted verbatim where the guide has them) and the edge cases around them.
#include "services/logs/filter_pattern.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

namespace vigil::logs {
namespace {

std::shared_ptr<const FilterPattern> must_compile(std::string_view pattern) {
  std::string error;
  auto p = FilterPattern::compile(pattern, &error);
  EXPECT_NE(p, nullptr) << "pattern: " << pattern << " error: " << error;
  return p;
}

// The compile error for a pattern AWS rejects ("" if it unexpectedly compiled).
std::string compile_error(std::string_view pattern) {
  std::string error;
  auto p = FilterPattern::compile(pattern, &error);
  EXPECT_EQ(p, nullptr) << "pattern unexpectedly compiled: " << pattern;
  EXPECT_FALSE(error.empty()) << "no error message for: " << pattern;
  return p ? "" : error;
}

bool match(std::string_view pattern, std::string_view message) {
  auto p = must_compile(pattern);
  if (!p) return false;
  bool result = p->matches(message);
  FilterMatch m;
  EXPECT_EQ(result, p->matches(message, &m)) << pattern << " / " << message;
  return result;
}

std::map<std::string, std::string> extracted(std::string_view pattern, std::string_view message) {
  auto p = must_compile(pattern);
  FilterMatch m;
  m.extracted_values.emplace_back("stale", "entry");  // must be cleared
  if (!p || !p->matches(message, &m)) {
    ADD_FAILURE() << "no match: " << pattern << " / " << message;
    return {};
  }
  return {m.extracted_values.begin(), m.extracted_values.end()};
}

// ---------------------------------------------------------------------------------------------
// Unstructured terms

TEST(FilterPatternTerms, EmptyPatternMatchesEverything) {
  for (std::string_view pattern : {"", "   ", "\" \"", "\"\""}) {
    auto p = must_compile(pattern);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->kind(), FilterPattern::Kind::kMatchAll) << pattern;
    EXPECT_TRUE(p->matches("[ERROR 400] BAD REQUEST"));
    EXPECT_TRUE(p->matches(""));
    EXPECT_TRUE(p->matches(" "));
  }
}

TEST(FilterPatternTerms, SingleTermIsCaseSensitiveSubstring) {
  // Guide: "ERROR" matches "[ERROR] A fatal exception has occurred" and "Exiting with ERRORCODE: -1".
  EXPECT_TRUE(match("ERROR", "[ERROR] A fatal exception has occurred"));
  EXPECT_TRUE(match("ERROR", "Exiting with ERRORCODE: -1"));
  for (std::string_view m : {"[ERROR 400] BAD REQUEST", "[ERROR 401] UNAUTHORIZED REQUEST",
                             "[ERROR 419] MISSING ARGUMENTS", "[ERROR 420] INVALID ARGUMENTS"})
    EXPECT_TRUE(match("ERROR", m)) << m;
  EXPECT_FALSE(match("ERROR", "error=cannot process ticket"));
  EXPECT_FALSE(match("ERROR", "Error: entity not found!"));
  EXPECT_FALSE(match("ERROR", "ErRoR"));
  EXPECT_FALSE(match("ERROR", ""));
  EXPECT_FALSE(match("Cloudwatch", "cloudwatch"));
}

TEST(FilterPatternTerms, MultipleTermsAreAndInAnyOrder) {
  EXPECT_TRUE(match("ERROR Exception", "[ERROR] Caught IllegalArgumentException"));
  EXPECT_TRUE(match("ERROR Exception", "[ERROR] Unhandled Exception"));
  EXPECT_FALSE(match("ERROR Exception", "[ERROR] Unhandled failure"));
  EXPECT_TRUE(match("Failed to process the request", "[WARN] Failed to process the request"));
  EXPECT_TRUE(match("Failed to process the request", "[ERROR] Unable to continue: Failed to process the request"));
  EXPECT_TRUE(match("Failed to process the request", "the request: Failed to process"));
  EXPECT_TRUE(match("ERROR ARGUMENTS", "[ERROR 419] MISSING ARGUMENTS"));
  EXPECT_TRUE(match("ERROR ARGUMENTS", "[ERROR 420] INVALID ARGUMENTS"));
  EXPECT_FALSE(match("ERROR ARGUMENTS", "[ERROR 400] BAD REQUEST"));
  EXPECT_FALSE(match("ERROR ARGUMENTS", "[ERROR 401] UNAUTHORIZED REQUEST"));
}

TEST(FilterPatternTerms, QuotedPhraseIsExact) {
  EXPECT_TRUE(match("\"INTERNAL SERVER ERROR\"", "[ERROR 500] INTERNAL SERVER ERROR"));
  EXPECT_FALSE(match("\"INTERNAL SERVER ERROR\"", "[ERROR 500] INTERNAL SERVER"));
  EXPECT_FALSE(match("\"Cloud watch\"", "Cloud logs watch"));
  EXPECT_TRUE(match("\"Cloud watch\"", "Cloud watch logs"));
  EXPECT_TRUE(match("\"Bad Request\"", "400 Bad Request from 10.0.0.1"));
  EXPECT_TRUE(match("\"ERROR][grpc\"", "2025-03-28 [ERROR][grpc] failed"));
  EXPECT_FALSE(match("\"ERROR][grpc\"", "[ERROR] [grpc]"));
  EXPECT_TRUE(match("\"#Cloud\" \"#watch\"", "#Cloud #watch"));
  EXPECT_FALSE(match("\"#cloud\"", "#Cloud watch"));
  // \" and \\ escape inside quotes (the AWS CDK quotes every term this way).
  EXPECT_TRUE(match(R"("say \"hi\"")", R"(they say "hi" here)"));
  EXPECT_TRUE(match(R"("C:\\temp")", R"(path C:\temp)"));
}

TEST(FilterPatternTerms, OrWithQuestionMark) {
  // Guide: with events 1 "ERROR WARN message", 2 "ERROR message", 3 "WARN message".
  const std::vector<std::string> events = {"ERROR WARN message", "ERROR message", "WARN message"};
  auto which = [&](std::string_view pattern) {
    std::vector<int> out;
    for (std::size_t i = 0; i < events.size(); ++i)
      if (match(pattern, events[i])) out.push_back(static_cast<int>(i) + 1);
    return out;
  };
  EXPECT_EQ(which("ERROR"), (std::vector<int>{1, 2}));
  EXPECT_EQ(which("?ERROR ?WARN"), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(which("ERROR WARN"), (std::vector<int>{1}));
  EXPECT_EQ(which("ERROR -WARN"), (std::vector<int>{2}));
  EXPECT_FALSE(match("?ERROR ?ARGUMENTS", "false"));
  EXPECT_TRUE(match("?ERROR ?ARGUMENTS", "ARGUMENTS IS THE ONLY KEYWORD IN LOG"));
  EXPECT_TRUE(match("?\"clean up\" ?xyz", "map clean up"));
  EXPECT_FALSE(match("?\"clean up\" ?xyz", "map is cleaned up"));
}

TEST(FilterPatternTerms, OptionalTermsAreIgnoredNextToRequiredOnes) {
  // As observed on AWS: a plain term makes the ?terms irrelevant.
  EXPECT_TRUE(match("ERROR ?WARN", "ERROR only"));
  EXPECT_FALSE(match("ERROR ?WARN", "WARN only"));
  EXPECT_TRUE(match("?WARN -DEBUG", "WARN here"));
  EXPECT_FALSE(match("?WARN -DEBUG", "WARN DEBUG here"));
  EXPECT_FALSE(match("?WARN -DEBUG", "nothing"));
}

TEST(FilterPatternTerms, Exclusion) {
  EXPECT_TRUE(match("ERROR -ARGUMENTS", "[ERROR 400] BAD REQUEST"));
  EXPECT_FALSE(match("ERROR -ARGUMENTS", "[ERROR 420] INVALID ARGUMENTS"));
  // The guide's "ERROR" - "Exiting", with and without the blank.
  for (std::string_view pattern : {"\"ERROR\" -\"Exiting\"", "\"ERROR\" - \"Exiting\""}) {
    EXPECT_TRUE(match(pattern, "[ERROR] A fatal exception has occurred")) << pattern;
    EXPECT_FALSE(match(pattern, "Exiting with ERRORCODE: -1")) << pattern;
  }
  // Only exclusions: everything else matches.
  EXPECT_TRUE(match("-ERROR", "all good"));
  EXPECT_FALSE(match("-ERROR", "an ERROR"));
}

TEST(FilterPatternTerms, NonAlphanumericTermsMustBeQuoted) {
  EXPECT_EQ(compile_error("ERROR:"), "Invalid character(s) in term 'ERROR:'");
  EXPECT_EQ(compile_error("#Cloud"), "Invalid character(s) in term '#Cloud'");
  EXPECT_EQ(compile_error("ERROR 1.5"), "Invalid character(s) in term '1.5'");
  EXPECT_EQ(compile_error("a-b"), "Invalid character(s) in term 'a-b'");
  EXPECT_EQ(compile_error("ERROR -"), "Invalid character(s) in term '-'");
  EXPECT_EQ(compile_error("? ERROR"), "Invalid character(s) in term '?'");
  EXPECT_EQ(compile_error("'single'"), "Invalid character(s) in term ''single''");
  EXPECT_EQ(compile_error("\"abc\"def"), "Invalid character(s) in term '\"abc\"def'");
  EXPECT_NE(compile_error("\"unterminated"), "");
  EXPECT_NE(compile_error("ERROR \"unterminated"), "");
  EXPECT_TRUE(match("under_score 123", "x under_score 123"));
}

// ---------------------------------------------------------------------------------------------
// Regular expressions

TEST(FilterPatternRegex, GuideExamples) {
  EXPECT_TRUE(match("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST"));
  EXPECT_TRUE(match("%AUTHORIZED%", "[SUCCESS 200] AUTHORIZED REQUEST"));
  EXPECT_FALSE(match("%AUTHORIZED%", "[SUCCESS 200] authorized"));
  EXPECT_TRUE(match("%^[hc]at%", "hat trick"));
  EXPECT_FALSE(match("%^[hc]at%", "the cat"));
  EXPECT_TRUE(match("%[hc]at$%", "the cat"));
  EXPECT_FALSE(match("%[hc]at$%", "cat food"));
  EXPECT_TRUE(match("%colou?r%", "color"));
  EXPECT_TRUE(match("%colou?r%", "colour"));
  EXPECT_TRUE(match("%[abcx-z]%", "y"));
  EXPECT_FALSE(match("%[abcx-z]%", "def"));
  EXPECT_TRUE(match("%a{3,5}%", "baaab"));
  EXPECT_FALSE(match("%a{3,5}%", "baab"));
  EXPECT_TRUE(match("%gra|ey%", "grey"));
  EXPECT_TRUE(match("%10\\.10\\.0\\.1%", "from 10.10.0.1"));
  EXPECT_FALSE(match("%10\\.10\\.0\\.1%", "from 10x10.0.1"));
  EXPECT_TRUE(match("%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%", "client 192.168.0.12 connected"));
  EXPECT_TRUE(match("%[Ee]rror|[Ff]ail%", "it will fail"));
  EXPECT_FALSE(match("%[Ee]rror|[Ff]ail%", "it went fine"));
  EXPECT_TRUE(match("%ERROR|WARN%", "a WARN"));
  EXPECT_TRUE(match("%[0-9]{3}%", "status 404"));
  EXPECT_FALSE(match("%[0-9]{3}%", "status 44"));
  EXPECT_TRUE(match("%bind: address already in use%", "listen tcp: bind: address already in use"));
}

TEST(FilterPatternRegex, CombinesWithTerms) {
  EXPECT_TRUE(match("ERROR %5\\d\\d%", "ERROR status=503"));
  EXPECT_FALSE(match("ERROR %5\\d\\d%", "ERROR status=404"));
  EXPECT_TRUE(match("?%^WARN% ?%^ERROR%", "ERROR x"));
  EXPECT_FALSE(match("ERROR -%^DEBUG%", "DEBUG ERROR"));
  auto p = must_compile("%a% %b%");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->regex_count(), 2);
}

TEST(FilterPatternRegex, Rejected) {
  EXPECT_EQ(compile_error("%something!%"), "Invalid character(s) in regular expression '%something!%'");
  EXPECT_NE(compile_error("%(a|b)c%").find("parentheses are not supported"), std::string::npos);
  EXPECT_NE(compile_error("%abc").find("unterminated regular expression"), std::string::npos);
  EXPECT_NE(compile_error("%%").find("empty"), std::string::npos);
  EXPECT_NE(compile_error("%caf\xc3\xa9%").find("multi-byte"), std::string::npos);
  EXPECT_NE(compile_error("%a% %b% %c%").find("at most 2 regular expressions"), std::string::npos);
  EXPECT_NE(compile_error("%a{2,1}%").find("Invalid regular expression"), std::string::npos);
  EXPECT_NE(compile_error("%[a%").find("Invalid regular expression"), std::string::npos);
  EXPECT_NE(compile_error("%\\pL%").find("unsupported escape"), std::string::npos);
  EXPECT_NE(compile_error("%a\\1%").find("unsupported escape"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// JSON

const char* const kGuideEvent = R"({
  "eventType": "UpdateTrail",
  "sourceIPAddress": "111.111.111.111",
  "arrayKey": [
        "value",
        "another value"
  ],
  "objectList": [
       {
         "name": "a",
         "id": 1
       },
       {
         "name": "b",
         "id": 2
       }
  ],
  "SomeObject": null,
  "ThisFlag": true
})";

TEST(FilterPatternJson, GuideExamplesMatch) {
  for (std::string_view pattern : {
           R"({ $.eventType = "UpdateTrail" })",
           R"({ $.sourceIPAddress != 123.123.* })",
           R"({ $.arrayKey[0] = "value" })",
           R"({ $.objectList[1].id = 2 })",
           R"({ $.SomeObject IS NULL })",
           R"({ $.SomeOtherObject NOT EXISTS })",
           R"({ $.ThisFlag IS TRUE })",
       }) {
    auto p = must_compile(pattern);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->kind(), FilterPattern::Kind::kJson);
    EXPECT_TRUE(p->matches(kGuideEvent)) << pattern;
  }
}

TEST(FilterPatternJson, GuideExamplesNegated) {
  for (std::string_view pattern : {
           R"({ $.eventType = "UpdateTrails" })",
           R"({ $.eventType = "updatetrail" })",
           R"({ $.sourceIPAddress != 111.111.* })",
           R"({ $.arrayKey[1] = "value" })",
           R"({ $.arrayKey[2] = * })",
           R"({ $.eventType[0] = "UpdateTrail" })",
           R"({ $.objectList[1].id = 1 })",
           R"({ $.objectList[0].missing = 1 })",
           R"({ $.eventType IS NULL })",
           R"({ $.Missing IS NULL })",
           R"({ $.SomeObject NOT EXISTS })",
           R"({ $.ThisFlag IS FALSE })",
           R"({ $.eventType IS TRUE })",
           R"({ $.SomeObject = * })",
       }) {
    EXPECT_FALSE(match(pattern, kGuideEvent)) << pattern;
  }
  EXPECT_TRUE(match(R"({ $.arrayKey[1] = "another value" })", kGuideEvent));
  EXPECT_TRUE(match(R"({ $.sourceIPAddress = 111.111.* })", kGuideEvent));
  EXPECT_TRUE(match(R"({ $.objectList[1].name = b })", kGuideEvent));
  EXPECT_TRUE(match(R"({ $.ThisFlag = true })", kGuideEvent));
  EXPECT_TRUE(match(R"({ $.eventType not exists || $.ThisFlag is true })", kGuideEvent));
  EXPECT_TRUE(match(R"({ $.a.b NOT EXISTS })", R"({"a": "scalar"})"));
}

TEST(FilterPatternJson, Wildcards) {
  // Guide: *Event matches PutEvent and GetEvent, Event* matches EventId and EventName,
  // Ev*ent only matches the actual string Ev*ent.
  EXPECT_TRUE(match(R"({ $.e = *Event })", R"({"e": "PutEvent"})"));
  EXPECT_TRUE(match(R"({ $.e = *Event })", R"({"e": "GetEvent"})"));
  EXPECT_FALSE(match(R"({ $.e = *Event })", R"({"e": "EventId"})"));
  EXPECT_TRUE(match(R"({ $.e = Event* })", R"({"e": "EventId"})"));
  EXPECT_TRUE(match(R"({ $.e = Event* })", R"({"e": "EventName"})"));
  EXPECT_FALSE(match(R"({ $.e = Event* })", R"({"e": "PutEvent"})"));
  EXPECT_FALSE(match(R"({ $.e = Ev*ent })", R"({"e": "Event"})"));
  EXPECT_TRUE(match(R"({ $.e = Ev*ent })", R"({"e": "Ev*ent"})"));
  EXPECT_TRUE(match(R"({ $.e = "*vent*" })", R"({"e": "my events"})"));
  EXPECT_TRUE(match(R"({ $.e = "abc*" })", R"({"e": "abcdef"})"));
  EXPECT_TRUE(match(R"({ $.e = * })", R"({"e": ""})"));
  EXPECT_TRUE(match(R"({ $.e = "" })", R"({"e": ""})"));
  EXPECT_FALSE(match(R"({ $.e = "" })", R"({"e": "x"})"));
  EXPECT_TRUE(match(R"({ $.e = "user@example.com" })", R"({"e": "user@example.com"})"));
  EXPECT_TRUE(match(R"({ $.e = "a \"q\" b" })", R"({"e": "a \"q\" b"})"));
}

TEST(FilterPatternJson, OrMatching) {
  const char* e1 = R"({"foo": "bar"})";
  const char* e2 = R"({"foo": "baz"})";
  EXPECT_TRUE(match("{$.foo = bar}", e1));
  EXPECT_FALSE(match("{$.foo = bar}", e2));
  EXPECT_FALSE(match("{$.foo = baz }", e1));
  EXPECT_TRUE(match("{$.foo = baz }", e2));
  EXPECT_TRUE(match("{$.foo = bar || $.foo = baz }", e1));
  EXPECT_TRUE(match("{$.foo = bar || $.foo = baz }", e2));
}

TEST(FilterPatternJson, CompoundConditionsFromGuide) {
  const char* event = R"({
    "user": {"id": 1, "email": "John.Stiles@example.com"},
    "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
    "actions": ["GET", "PUT", "DELETE"],
    "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]]
  })";
  EXPECT_TRUE(match(R"({ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") })", event));
  EXPECT_FALSE(match(R"({ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" })", event));
  EXPECT_TRUE(match(
      R"({ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch })",
      event));
  EXPECT_FALSE(match(
      R"({ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch })",
      event));
  EXPECT_TRUE(match(R"({ $.coordinates[2][1] = 8 && $.actions[1] = PUT })", event));
  EXPECT_TRUE(match(R"({ ((($.user.id = 1))) })", event));
}

TEST(FilterPatternJson, SelectorMustPointToAValueNode) {
  // Guide: both {$.users = 1} and {$.users != 1} fail to match when users is an array.
  const char* event = R"({"users": [1, 2, 3], "obj": {"a": 1}})";
  EXPECT_FALSE(match("{$.users = 1}", event));
  EXPECT_FALSE(match("{$.users != 1}", event));
  EXPECT_FALSE(match("{$.obj = *}", event));
  EXPECT_FALSE(match("{$.obj != 1}", event));
  EXPECT_FALSE(match("{$.missing != 1}", event));
  EXPECT_TRUE(match("{$.users[2] = 3}", event));
}

TEST(FilterPatternJson, NumericComparisons) {
  const char* event = R"({"latency": 750, "numbers": [0.001, 20000], "errorCode": 400,
                          "processes": [{}, {}, {}, {}, {"averageRuntime": 55.5}], "neg": -12.5,
                          "big": 18446744073709551615, "text": "400", "word": "abc", "version": "1.1"})";
  for (std::string_view pattern : {
           "{ $.latency >= 500 }", "{ $.numbers[0] < 10e3 }", "{ $.numbers[0] < 10e-3 }",
           "{ $.processes[4].averageRuntime <= 55.5 }", "{ $.errorCode = 400 }", "{ $.errorCode != 500 }",
           "{ $.latency > +100 }", "{ $.latency = 750.0 }", "{ $.latency = 7.5e2 }", "{ $.neg < -12 }",
           "{ $.neg = -12.5 }", "{ $.big > 1e19 }", "{ $.text = 400 }", "{ $.text >= 399.5 }",
           "{ $.errorCode = 4* }", "{ $.word != 400 }", "{ $.latency = \"750\" }", "{ $.text = \"400\" }",
           "{ $.version != 1.10 }", "{ $.version = 1.1 }",
       }) {
    EXPECT_TRUE(match(pattern, event)) << pattern;
  }
  for (std::string_view pattern : {
           "{ $.latency > +1000 }", "{ $.numbers[1] < 10e3 }", "{ $.processes[4].averageRuntime < 55.5 }",
           "{ $.errorCode = 500 }", "{ $.errorCode != 400 }", "{ $.neg > 0 }", "{ $.word > 1 }",
           "{ $.word = 400 }", "{ $.missing < 1 }", "{ $.processes > 1 }", "{ $.text = 400.0 }",
           "{ $.version = 1.10 }", "{ $.latency = \"750.0\" }",
       }) {
    EXPECT_FALSE(match(pattern, event)) << pattern;
  }
}

TEST(FilterPatternJson, RegexValues) {
  EXPECT_TRUE(match("{ $.msg = %err.*% }", R"({"msg": "an error happened"})"));
  EXPECT_FALSE(match("{ $.msg = %err.*% }", R"({"msg": "fine"})"));
  EXPECT_TRUE(match("{ $.msg != %err.*% }", R"({"msg": "fine"})"));
  EXPECT_FALSE(match("{ $.msg != %err.*% }", R"({"missing": "fine"})"));
  EXPECT_TRUE(match("{ $.eventName = %^Delete[A-Za-z]*$% && $.code = %^4\\d\\d$% }",
                    R"({"eventName": "DeleteBucket", "code": 403})"));
  EXPECT_TRUE(match("{ $.message = %bind: address already in use% }",
                    R"({"message": "listen: bind: address already in use"})"));
  EXPECT_NE(compile_error("{ $.a = %a% && $.b = %b% && $.c = %c% }").find("at most 2"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a > %1% }").find("compare numbers"), std::string::npos);
}

TEST(FilterPatternJson, NonJsonNeverMatches) {
  for (std::string_view message : {"", "ERROR", "[1,2]", "\"string\"", "{ not json", "{\"a\": 1} trailing", "null"}) {
    EXPECT_FALSE(match("{ $.a NOT EXISTS }", message)) << message;
    EXPECT_FALSE(match("{ $.a = * }", message)) << message;
  }
  EXPECT_TRUE(match("{ $.a = 1 }", "  \n{\"a\": 1}\n"));
}

TEST(FilterPatternJson, ExtractedValuesAreEmpty) {
  // Guide: "If you are not using a space-delimited filter, this will be empty."
  auto p = must_compile("{ $.latency = * }");
  ASSERT_NE(p, nullptr);
  FilterMatch m;
  ASSERT_TRUE(p->matches(R"({"latency": 50})", &m));
  EXPECT_TRUE(m.extracted_values.empty());
}

TEST(FilterPatternJson, ExtractForMetricValues) {
  // Guide: metricFilter { $.latency = * }, metricValue $.latency.
  auto p = must_compile("{ $.latency = * }");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->extract(R"({"latency": 50})", "$.latency"), "50");
  EXPECT_EQ(p->extract(R"({"latency": 12.25})", "$.latency"), "12.25");
  EXPECT_EQ(p->extract(R"({"latency": -3})", "$.latency"), "-3");
  EXPECT_EQ(p->extract(R"({"a": {"b": ["x", "y"]}})", "$.a.b[1]"), "y");
  EXPECT_EQ(p->extract(R"({"flag": true})", "$.flag"), "true");
  EXPECT_EQ(p->extract(R"({"n": null})", "$.n"), std::nullopt);
  EXPECT_EQ(p->extract(R"({"o": {}})", "$.o"), std::nullopt);
  EXPECT_EQ(p->extract(R"({"latency": 50})", "$.missing"), std::nullopt);
  EXPECT_EQ(p->extract("not json", "$.latency"), std::nullopt);
  EXPECT_EQ(p->extract(R"({"latency": 50})", "$latency"), std::nullopt);
  EXPECT_EQ(p->extract(R"({"latency": 50})", "$.latency junk"), std::nullopt);
  EXPECT_TRUE(p->is_valid_selector("$.a.b[0].c"));
  EXPECT_FALSE(p->is_valid_selector("$name"));
  EXPECT_FALSE(p->is_valid_selector("$."));

  std::vector<std::string_view> selectors = {"$.latency", "$.service", "$.nope"};
  std::vector<std::optional<std::string>> values;
  EXPECT_TRUE(p->match_and_extract(R"({"latency": 7, "service": "api"})", selectors, &values));
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[0], "7");
  EXPECT_EQ(values[1], "api");
  EXPECT_EQ(values[2], std::nullopt);
  EXPECT_FALSE(p->match_and_extract(R"({"service": "api"})", selectors, &values));
  EXPECT_EQ(values, (std::vector<std::optional<std::string>>(3)));
}

TEST(FilterPatternJson, Rejected) {
  EXPECT_NE(compile_error("{ status = 401 }").find("Invalid selector"), std::string::npos);  // CDK #15047
  EXPECT_NE(compile_error("{ $.a = 1").find("missing '}'"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a = 1 }}").find("unexpected text after '}'"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a = 1 } ERROR").find("unexpected text after '}'"), std::string::npos);
  EXPECT_NE(compile_error("{}").find("empty"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a == 1 }").find("'=='"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a <> 1 }"), "");
  EXPECT_NE(compile_error("{ $.a > abc }").find("compare numbers"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a >= 4* }").find("compare numbers"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a > \"5\" }").find("compare numbers"), std::string::npos);
  EXPECT_NE(compile_error("{ $. = 1 }").find("Invalid selector"), std::string::npos);
  EXPECT_NE(compile_error("{ $ = 1 }").find("Invalid selector"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a[x] = 1 }").find("Invalid selector"), std::string::npos);
  EXPECT_NE(compile_error("{ $[0] = 1 }").find("Invalid selector"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a@b = 1 }").find("Invalid selector"), std::string::npos);
  EXPECT_NE(compile_error("{ ($.a = 1 }").find("missing ')'"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a = 1) }"), "");
  EXPECT_NE(compile_error("{ $.a IS MAYBE }").find("unknown operator"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a NOT NULL }").find("unknown operator"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a }").find("expected a comparison operator"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a = }").find("expected a value"), std::string::npos);
  EXPECT_EQ(compile_error("{ $.a = @x }"), "Invalid character(s) in term '@x'");
  EXPECT_EQ(compile_error("{ $.a = 'Root' }"), "Invalid character(s) in term ''Root''");  // terraform #2945
  EXPECT_NE(compile_error("{ $.a = \"x }").find("unterminated"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a = 1 && }").find("expected a selector"), std::string::npos);
  EXPECT_NE(compile_error("{ $.a = 1 & $.b = 2 }"), "");
  EXPECT_NE(compile_error("{ && $.a = 1 }").find("Invalid selector"), std::string::npos);
  std::string deep = "{ " + std::string(40, '(') + "$.a = 1" + std::string(40, ')') + " }";
  EXPECT_NE(compile_error(deep).find("nested too deeply"), std::string::npos);
  std::string ok = "{ " + std::string(30, '(') + "$.a = 1" + std::string(30, ')') + " }";
  EXPECT_TRUE(match(ok, R"({"a": 1})"));
}

// ---------------------------------------------------------------------------------------------
// Space-delimited

const char* const kApache1 = R"(127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534)";
const char* const kApache2 = R"(127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324)";
const char* const kApache3 = R"(127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355)";
const char* const kApache404 = R"(127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534)";

std::vector<int> which_apache(std::string_view pattern) {
  std::vector<int> out;
  int i = 0;
  for (const char* m : {kApache1, kApache2, kApache3, kApache404}) {
    ++i;
    if (match(pattern, m)) out.push_back(i);
  }
  return out;
}

TEST(FilterPatternDelimited, GuideExamples) {
  EXPECT_EQ(which_apache("[ip, user, username, timestamp, request, status_code, bytes]"),
            (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(which_apache("[..., status_code, bytes]"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(which_apache("[ip, user, ..., status_code, bytes]"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(which_apache("[ip, user, ...]"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(which_apache("[ip, user, username, timestamp, request, status_code, bytes > 1000]"),
            (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(which_apache("[ip, user, username, timestamp, request, status_code, bytes > 5000]"),
            (std::vector<int>{2}));
  EXPECT_EQ(which_apache("[ip, user, username, timestamp, request, status_code = 200, bytes]"),
            (std::vector<int>{1, 3}));
  EXPECT_EQ(which_apache("[ip, user, username, timestamp, request, status_code = 4*, bytes]"),
            (std::vector<int>{4}));
  EXPECT_EQ(which_apache("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]"),
            (std::vector<int>{4}));
  EXPECT_EQ(which_apache("[ip, user, username, timestamp, request, status_code = 403 || status_code = 404, bytes]"),
            (std::vector<int>{4}));
  EXPECT_EQ(which_apache("[ip, user, ..., status_code = 404 || status_code = 500, bytes]"),
            (std::vector<int>{2, 4}));
  EXPECT_EQ(which_apache("[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]"),
            (std::vector<int>{4}));
  EXPECT_EQ(which_apache("[ip, user, username, timestamp, request, status_code != 200, bytes]"),
            (std::vector<int>{2, 4}));
  EXPECT_EQ(which_apache("[ip, user, username = frank, ...]"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(which_apache("[ip, user, username = \"frank\", timestamp = \"10/Oct/2000:13:35:22 -0700\", ...]"),
            (std::vector<int>{2}));
  EXPECT_EQ(which_apache("[..., request = \"GET /index.html HTTP/1.0\", status_code, bytes]"),
            (std::vector<int>{4}));
  EXPECT_EQ(which_apache("[ip = %127\\.0\\.0\\.[1-9]%, ...]"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(which_apache("[ip != %^127\\.%, ...]"), (std::vector<int>{}));
  EXPECT_EQ(which_apache("[ip, user, ..., bytes >= 4355 && bytes <= 5324]"), (std::vector<int>{2, 3}));
}

TEST(FilterPatternDelimited, FieldCountMustFit) {
  // Guide: [w1=ERROR, w2] matches "ERROR message" but not "ERROR WARN message";
  // [w1=ERROR || w1=WARN, w2] matches "ERROR message" and "WARN message".
  const std::vector<std::string> events = {"ERROR WARN message", "ERROR message", "WARN message"};
  auto which = [&](std::string_view pattern) {
    std::vector<int> out;
    for (std::size_t i = 0; i < events.size(); ++i)
      if (match(pattern, events[i])) out.push_back(static_cast<int>(i) + 1);
    return out;
  };
  EXPECT_EQ(which("[w1=ERROR, w2]"), (std::vector<int>{2}));
  EXPECT_EQ(which("[w1=ERROR || w1=WARN, w2]"), (std::vector<int>{2, 3}));
  EXPECT_EQ(which("[w1!=ERROR && w1!=WARN, w2]"), (std::vector<int>{}));
  EXPECT_EQ(which("[w1, w2, w3]"), (std::vector<int>{1}));
  EXPECT_EQ(which("[w1 = ERROR, ...]"), (std::vector<int>{1, 2}));
  EXPECT_FALSE(match("[a]", ""));
  EXPECT_TRUE(match("[...]", ""));
  EXPECT_TRUE(match("[a, b]", "  x \t y  \n"));
}

TEST(FilterPatternDelimited, ExtractedValuesAsInTheGuide) {
  auto values = extracted("[..., request=*.html*, status_code=4*,]", kApache404);
  std::map<std::string, std::string> expected = {
      {"$status_code", "404"}, {"$request", "GET /index.html HTTP/1.0"}, {"$7", "1534"},
      {"$4", "10/Oct/2000:13:25:15 -0700"}, {"$3", "frank"}, {"$2", "-"}, {"$1", "127.0.0.1"},
  };
  EXPECT_EQ(values, expected);

  auto all = extracted("[ip, user, username, timestamp, request, status_code, bytes]", kApache1);
  EXPECT_EQ(all.size(), 7u);
  EXPECT_EQ(all["$ip"], "127.0.0.1");
  EXPECT_EQ(all["$timestamp"], "10/Oct/2000:13:25:15 -0700");
  EXPECT_EQ(all["$request"], "GET /apache_pb.gif HTTP/1.0");
  EXPECT_EQ(all["$bytes"], "1534");

  // In order of the event's fields.
  auto p = must_compile("[a, ..., b]");
  ASSERT_NE(p, nullptr);
  FilterMatch m;
  ASSERT_TRUE(p->matches("x y z", &m));
  ASSERT_EQ(m.extracted_values.size(), 3u);
  EXPECT_EQ(m.extracted_values[0], (std::pair<std::string, std::string>{"$a", "x"}));
  EXPECT_EQ(m.extracted_values[1], (std::pair<std::string, std::string>{"$2", "y"}));
  EXPECT_EQ(m.extracted_values[2], (std::pair<std::string, std::string>{"$b", "z"}));
  EXPECT_FALSE(p->matches("x", &m));
  EXPECT_TRUE(m.extracted_values.empty());
}

TEST(FilterPatternDelimited, MessageFieldSplitting) {
  EXPECT_EQ(extracted("[a, b, c]", R"("one two" [three four] five)"),
            (std::map<std::string, std::string>{{"$a", "one two"}, {"$b", "three four"}, {"$c", "five"}}));
  EXPECT_EQ(extracted("[a, b]", R"("say \"hi\" now" x)"),
            (std::map<std::string, std::string>{{"$a", R"(say \"hi\" now)"}, {"$b", "x"}}));
  EXPECT_EQ(extracted("[a, b]", "[outer [inner] x] y"),
            (std::map<std::string, std::string>{{"$a", "outer [inner] x"}, {"$b", "y"}}));
  // An unclosed quote or bracket is an ordinary character.
  EXPECT_EQ(extracted("[a, b]", "\"open x"), (std::map<std::string, std::string>{{"$a", "\"open"}, {"$b", "x"}}));
  EXPECT_EQ(extracted("[a, b]", "[open x"), (std::map<std::string, std::string>{{"$a", "[open"}, {"$b", "x"}}));
  EXPECT_EQ(extracted("[a, b]", "\"\" x"), (std::map<std::string, std::string>{{"$a", ""}, {"$b", "x"}}));
}

TEST(FilterPatternDelimited, NumericAndStringConditions) {
  EXPECT_TRUE(match("[a > 10]", "11"));
  EXPECT_FALSE(match("[a > 10]", "-"));
  EXPECT_FALSE(match("[a > 10]", "10"));
  EXPECT_TRUE(match("[a >= 1e1]", "10.0"));
  EXPECT_TRUE(match("[a < -1]", "-1.5"));
  EXPECT_TRUE(match("[a = 10]", "10.0"));
  EXPECT_FALSE(match("[a = \"10\"]", "10.0"));  // quoted: a string
  EXPECT_TRUE(match("[a = \"10\"]", "10"));
  EXPECT_TRUE(match("[a != 10]", "-"));
  EXPECT_FALSE(match("[a != 10]", "10"));
  EXPECT_TRUE(match("[a = \"x y\"]", "\"x y\""));
  EXPECT_TRUE(match("[a = *]", "anything"));
  EXPECT_TRUE(match("[a = GET*]", "GETX"));
  EXPECT_FALSE(match("[a = GET*]", "XGET"));
  EXPECT_TRUE(match("[(a = 1 || a = 2) && a != 3]", "2"));
}

TEST(FilterPatternDelimited, MultipleEllipses) {
  EXPECT_TRUE(match("[first, ..., mid = X, ..., last]", "a b X c d"));
  EXPECT_TRUE(match("[first, ..., mid = X, ..., last]", "a X d"));
  EXPECT_FALSE(match("[first, ..., mid = X, ..., last]", "X d"));
  EXPECT_FALSE(match("[first, ..., mid = X, ..., last]", "a b c d"));
  EXPECT_TRUE(match("[..., a = 1, b = 2, ...]", "0 1 1 2 3"));
  EXPECT_FALSE(match("[..., a = 1, b = 2, ...]", "2 1 0"));
  EXPECT_TRUE(match("[..., ...]", "x"));
}

TEST(FilterPatternDelimited, ExtractForMetricValues) {
  auto p = must_compile("[ip, user, username, timestamp, request, status_code = 4*, bytes]");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->extract(kApache404, "$bytes"), "1534");
  EXPECT_EQ(p->extract(kApache404, "$status_code"), "404");
  EXPECT_EQ(p->extract(kApache404, "$1"), "127.0.0.1");
  EXPECT_EQ(p->extract(kApache404, "$nope"), std::nullopt);
  EXPECT_EQ(p->extract(kApache404, "$8"), std::nullopt);
  EXPECT_EQ(p->extract(kApache1, "$bytes"), std::nullopt);  // does not match: 200
  EXPECT_EQ(p->extract(kApache404, "$.bytes"), std::nullopt);
  EXPECT_TRUE(p->is_valid_selector("$bytes"));
  EXPECT_TRUE(p->is_valid_selector("$status_code"));
  EXPECT_TRUE(p->is_valid_selector("$3"));
  EXPECT_FALSE(p->is_valid_selector("$latency"));
  EXPECT_FALSE(p->is_valid_selector("bytes"));
  EXPECT_FALSE(p->is_valid_selector("$.bytes"));

  std::vector<std::string_view> selectors = {"$bytes", "$ip"};
  std::vector<std::optional<std::string>> values;
  EXPECT_TRUE(p->match_and_extract(kApache404, selectors, &values));
  EXPECT_EQ(values, (std::vector<std::optional<std::string>>{"1534", "127.0.0.1"}));
}

TEST(FilterPatternDelimited, Rejected) {
  // The guide's old example, which AWS answers with "Invalid filter pattern" (awsdocs issue #21).
  EXPECT_NE(compile_error("[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]")
                .find("must all be about that field"),
            std::string::npos);
  EXPECT_NE(compile_error("[a, b").find("missing ']'"), std::string::npos);
  EXPECT_NE(compile_error("[a, b = 1").find("missing ']'"), std::string::npos);
  EXPECT_NE(compile_error("[]").find("no fields"), std::string::npos);
  EXPECT_NE(compile_error("[a b]").find("expected a comparison operator"), std::string::npos);
  EXPECT_NE(compile_error("[a = ]").find("expected a value"), std::string::npos);
  EXPECT_NE(compile_error("[a == 1]").find("'=='"), std::string::npos);
  EXPECT_NE(compile_error("[...x]").find("expected ',' or ']'"), std::string::npos);
  EXPECT_NE(compile_error("[a, b] junk").find("unexpected text after ']'"), std::string::npos);
  EXPECT_NE(compile_error("[a > x]").find("compare numbers"), std::string::npos);
  EXPECT_NE(compile_error("[a IS NULL]").find("expected a comparison operator"), std::string::npos);
  EXPECT_NE(compile_error("[$.a = 1]").find("Invalid character(s) in field"), std::string::npos);
  EXPECT_NE(compile_error("[a = %x%, b = %y%, c = %z%]").find("at most 2"), std::string::npos);
  EXPECT_EQ(compile_error("[a = x@y]"), "Invalid character(s) in term 'x@y'");
  EXPECT_NE(compile_error("[(a = 1, b]").find("missing ')'"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Limits and sharing

TEST(FilterPatternLimits, PatternLength) {
  std::string ok(1024, 'a');
  EXPECT_NE(must_compile(ok), nullptr);
  EXPECT_NE(compile_error(std::string(1025, 'a')).find("1024"), std::string::npos);
  // Counted in characters, not bytes.
  std::string accents;
  for (int i = 0; i < 1000; ++i) accents += "\xc3\xa9";
  EXPECT_NE(must_compile(accents), nullptr);
  EXPECT_TRUE(must_compile(accents)->matches("x" + accents + "y"));
  FilterPattern::compile(std::string(5000, '('), nullptr);  // a null error pointer is allowed
}

TEST(FilterPatternLimits, KindAndSource) {
  EXPECT_EQ(must_compile("ERROR")->kind(), FilterPattern::Kind::kTerms);
  EXPECT_EQ(must_compile("%x%")->kind(), FilterPattern::Kind::kTerms);
  EXPECT_EQ(must_compile("  [a]")->kind(), FilterPattern::Kind::kSpaceDelimited);
  EXPECT_EQ(must_compile("\n{ $.a = 1 }")->kind(), FilterPattern::Kind::kJson);
  EXPECT_EQ(must_compile("ERROR -x")->source(), "ERROR -x");
  EXPECT_EQ(must_compile("ERROR")->regex_count(), 0);
  EXPECT_EQ(must_compile("ERROR")->extract("ERROR", "$1"), std::nullopt);
}

TEST(FilterPatternLimits, SharedAcrossThreads) {
  auto json = must_compile(R"({ $.level = "ERROR" && $.latency > 100 })");
  auto delimited = must_compile("[ip, ..., status = 5*, bytes > 100]");
  auto terms = must_compile("ERROR -DEBUG %5\\d\\d%");
  ASSERT_TRUE(json && delimited && terms);
  std::vector<std::thread> threads;
  std::vector<int> counts(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string n = std::to_string(i);
        counts[t] += json->matches(R"({"level": "ERROR", "latency": )" + n + "}");
        counts[t] += delimited->matches("1.2.3.4 x 503 " + n);
        counts[t] += terms->matches("ERROR " + n);
      }
    });
  }
  for (auto& th : threads) th.join();
  // json: latency 101..1999 -> 1899; delimited: bytes 101..1999 -> 1899; terms: "5dd" occurs in
  // 500..599 and 1500..1599 -> 200.
  for (int c : counts) EXPECT_EQ(c, 1899 + 1899 + 200);
}

}  // namespace
}  // namespace vigil::logs
