package access

import "testing"

// TestMatrix pins the table to DESIGN §4, row by row: a change to who may
// do what must change this test too.
func TestMatrix(t *testing.T) {
	want := map[Action][4]bool{ // none, standard, admin, owner
		ViewProject:       {false, true, true, true},
		RunFlows:          {false, true, true, true},
		EditIntegrations:  {false, true, true, true},
		ManageCredentials: {false, false, true, true},
		ConfigureProject:  {false, false, true, true},
		ManageAccess:      {false, false, true, true},
		ViewAudit:         {false, false, true, true},
		OwnProject:        {false, false, false, true},
		ReadSecret:        {false, false, false, false},
	}
	if len(want) != len(Matrix) {
		t.Fatalf("the matrix has %d actions, the test %d: pin every action", len(Matrix), len(want))
	}
	for action, row := range want {
		for role := None; role <= Owner; role++ {
			if got := Can(role, action); got != row[role] {
				t.Errorf("Can(%s, %s) = %v, want %v", role, action, got, row[role])
			}
		}
	}
	if Can(Owner, "no.such.action") {
		t.Error("an unknown action was allowed")
	}
}
