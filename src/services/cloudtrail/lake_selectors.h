// Advanced event selectors (AdvancedEventSelectors) as event data stores and trails use
// them: which CloudTrail records a store collects or a trail logs. A record is collected when any selector matches; a
// selector matches when all its field selectors do; a field selector matches a value when one
// of its Equals/StartsWith/EndsWith conditions holds (or it has none) and none of its
// NotEquals/NotStartsWith/NotEndsWith conditions does. Multi-valued fields (resources.type,
// resources.ARN) match when any of the record's values does.
//
// Plain functions over the record Value. Matching costs a few string comparisons per
// condition; no allocation but the field's values.
#pragma once

#include "core/value.h"

namespace vigil::cloudtrail {

// AWS's checks for an event data store's selectors (InvalidEventSelectorsException), and
// Vigil's limits (UnsupportedOperationException for categories it does not produce).
void validate_lake_selectors(const Value& selectors);

// The same for a trail's (PutEventSelectors), with what AWS allows trails: categories
// Management and Data (NetworkActivity: Vigil produces none, UnsupportedOperationException);
// a management selector filters on readOnly and on eventSource only with NotEquals
// (kms.amazonaws.com, rdsdata.amazonaws.com); a data selector names one resources.type with
// Equals; at most 500 values in all.
void validate_trail_selectors(const Value& selectors);

bool lake_selectors_match(const Value& selectors, const Value& record);

// Whether some selector collects data events (so data event records must be built).
bool lake_selectors_want_data(const Value& selectors);

// Whether some selector takes management events, and (`write`) write ones among them.
bool lake_selectors_want_management(const Value& selectors, bool write);

// The selectors of an event data store created without any: all management events.
Value default_lake_selectors();

}  // namespace vigil::cloudtrail
