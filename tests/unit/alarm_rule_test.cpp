#include "services/cloudwatch/alarm_rule.h"

#include <gtest/gtest.h>

#include <map>

using namespace vigil::cloudwatch;

namespace {
bool eval(const std::string& rule, std::map<std::string, std::string> states) {
  return AlarmRule::parse(rule).evaluate([&](std::string_view a) { return states[std::string(a)]; });
}
}  // namespace

TEST(AlarmRule, FunctionsAndConstants) {
  EXPECT_TRUE(eval("TRUE", {}));
  EXPECT_FALSE(eval("FALSE", {}));
  EXPECT_TRUE(eval("ALARM(a)", {{"a", "ALARM"}}));
  EXPECT_FALSE(eval("ALARM(a)", {{"a", "OK"}}));
  EXPECT_TRUE(eval("OK(a)", {{"a", "OK"}}));
  EXPECT_TRUE(eval("INSUFFICIENT_DATA(a)", {{"a", "INSUFFICIENT_DATA"}}));
  EXPECT_TRUE(eval("False OR true", {}));  // the user guide writes `False`
}

TEST(AlarmRule, DocumentedExamples) {
  std::map<std::string, std::string> s{{"CPUUtilizationTooHigh", "ALARM"}, {"DiskReadOpsTooHigh", "OK"},
                                       {"DeploymentInProgress", "OK"}, {"NetworkOutTooHigh", "OK"}};
  EXPECT_FALSE(eval("ALARM(CPUUtilizationTooHigh) AND ALARM(DiskReadOpsTooHigh)", s));
  EXPECT_TRUE(eval("ALARM(CPUUtilizationTooHigh) AND NOT ALARM(DeploymentInProgress)", s));
  EXPECT_TRUE(eval("(ALARM(\"CPUUtilizationTooHigh\") OR \nALARM(\"DiskReadOpsTooHigh\")) AND \nOK(\"NetworkOutTooHigh\")", s));
}

TEST(AlarmRule, PrecedenceNotAndOr) {
  // NOT binds tighter than AND, AND tighter than OR.
  EXPECT_TRUE(eval("TRUE OR FALSE AND FALSE", {}));
  EXPECT_FALSE(eval("(TRUE OR FALSE) AND FALSE", {}));
  EXPECT_TRUE(eval("NOT FALSE AND TRUE", {}));
  EXPECT_FALSE(eval("NOT (FALSE OR TRUE)", {}));
  EXPECT_TRUE(eval("NOT NOT TRUE", {}));
}

TEST(AlarmRule, NamesQuotedArnsAndReferences) {
  auto r = AlarmRule::parse(
      "ALARM(\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:my alarm (prod)\") OR OK( plain-name ) OR ALARM(plain-name)");
  auto refs = r.referenced_alarms();
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0], "arn:aws:cloudwatch:us-east-1:123456789012:alarm:my alarm (prod)");
  EXPECT_EQ(refs[1], "plain-name");
  EXPECT_TRUE(eval("ALARM(\"a \\\" b\")", {{"a \" b", "ALARM"}}));
}

TEST(AlarmRule, ShortCircuits) {
  int calls = 0;
  auto r = AlarmRule::parse("FALSE AND ALARM(x)");
  EXPECT_FALSE(r.evaluate([&](std::string_view) { ++calls; return std::string("ALARM"); }));
  EXPECT_EQ(calls, 0);
}

TEST(AlarmRule, SyntaxErrors) {
  for (const char* bad : {"", "   ", "ALARM", "ALARM()", "ALARM(a", "ALARM(a) AND", "(TRUE", "TRUE)", "FOO(a)",
                          "ALARM(\"a)", "TRUE TRUE", "AND TRUE", "NOT", "ALARM(a) OR OR ALARM(b)"}) {
    EXPECT_THROW(AlarmRule::parse(bad), RuleError) << bad;
  }
  try {
    AlarmRule::parse("ALARM(a) XOR ALARM(b)");
    FAIL();
  } catch (const RuleError& e) {
    EXPECT_NE(e.message.find("position"), std::string::npos);
  }
}

TEST(AlarmRule, Limits) {
  std::string ok;
  for (int i = 0; i < 100; ++i) ok += (i ? " OR " : "") + std::string("ALARM(a") + std::to_string(i) + ")";
  EXPECT_EQ(AlarmRule::parse(ok).referenced_alarms().size(), 100u);
  EXPECT_THROW(AlarmRule::parse(ok + " OR ALARM(b)"), RuleError);  // 101 children
  EXPECT_THROW(AlarmRule::parse(std::string(10241, ' ') + "TRUE"), RuleError);
  std::string elems;
  for (int i = 0; i < 501; ++i) elems += (i ? " OR " : "") + std::string("TRUE");
  EXPECT_THROW(AlarmRule::parse(elems), RuleError);  // 501 elements
  EXPECT_THROW(AlarmRule::parse(std::string(600, '(') + "TRUE" + std::string(600, ')')), RuleError);
  std::string nots;
  for (int i = 0; i < 2000; ++i) nots += "NOT ";
  EXPECT_THROW(AlarmRule::parse(nots + "TRUE"), RuleError);
  EXPECT_TRUE(eval(std::string(100, '(') + "TRUE" + std::string(100, ')'), {}));
}

TEST(AlarmRule, CompositeReason) {
  // 2023-06-22T14:26:01.928Z
  std::vector<TriggeringAlarm> t{{"arn:aws:cloudwatch:ap-northeast-1:0000000000:alarm:test2", "OK", 1687443961928},
                                 {"arn:aws:cloudwatch:ap-northeast-1:0000000000:alarm:test1", "OK", 1687443930174}};
  EXPECT_EQ(composite_reason(t),
            "arn:aws:cloudwatch:ap-northeast-1:0000000000:alarm:test2 transitioned to OK at Thursday 22 June, 2023 14:26:01 UTC");
  EXPECT_EQ(composite_reason_data(t),
            "{\"triggeringAlarms\":[{\"arn\":\"arn:aws:cloudwatch:ap-northeast-1:0000000000:alarm:test2\",\"state\":{\"value\":\"OK\","
            "\"timestamp\":\"2023-06-22T14:26:01.928+0000\"}},{\"arn\":\"arn:aws:cloudwatch:ap-northeast-1:0000000000:alarm:test1\","
            "\"state\":{\"value\":\"OK\",\"timestamp\":\"2023-06-22T14:25:30.174+0000\"}}]}");
}
