# The peer workload in Rego (see peer.policy for the same rules in the policy
# language).  Each rule adds its name to the set of its outcome; the most
# severe non-empty set decides, negotiate when none holds.  Jurisdictions and
# their rule_of_law scores are in data.jurisdictions.
package peer

import rego.v1

withdraw contains "a_no_keys" if input.kind in {"key_disclosure", "encryption_backdoor", "traceability"}

withdraw contains "b_no_censorship" if {
	input.kind == "channel_block"
	input.category in {"peaceful_protest", "political_opposition", "journalism"}
}

comply contains "c_remove_abuse" if {
	input.kind in {"content_removal", "channel_block"}
	input.category in {"terrorism", "csam"}
}

comply contains "d_court_ordered_data" if {
	input.kind == "user_data"
	input.category in {"criminal_suspect", "terrorism"}
	input.legal_basis == "court_order"
	data.jurisdictions[input.jurisdiction].rule_of_law >= 0.6
}

negotiate contains "e_weak_courts" if {
	input.kind == "user_data"
	data.jurisdictions[input.jurisdiction].rule_of_law < 0.6
}

comply contains "f_terror_hotline" if {
	input.kind == "hotline"
	input.category == "terrorism"
}

negotiate contains "g_localization" if input.kind == "data_localization"

default outcome := "negotiate"

outcome := "withdraw" if count(withdraw) > 0

outcome := "negotiate" if {
	count(withdraw) == 0
	count(negotiate) > 0
}

outcome := "comply" if {
	count(withdraw) == 0
	count(negotiate) == 0
	count(comply) > 0
}

decision := {"outcome": outcome, "withdraw": withdraw, "negotiate": negotiate, "comply": comply}
