package router_test

import (
	"fmt"

	"github.com/gatehouse-proxy/gatehouse/internal/router"
)

func ExampleTable_Explain() {
	tb := router.NewTable([]*router.Route{
		{Name: "deny-admin", Prefix: "/admin", Fixed: router.NewFixed(403, "", nil)},
		{Name: "api", Hosts: []string{"api.example.com"}, Prefix: "/v1/", Methods: []string{"GET"},
			Rewrite: &router.Rewrite{StripPrefix: "/v1"}},
		{Name: "site", Prefix: "/"},
	})
	r := &router.Request{Method: []byte("GET"), Host: []byte("www.example.com"), Target: []byte("/x/../%61dmin/")}
	fmt.Println("match:", tb.Match(r).Name)
	for _, v := range tb.Explain(r) {
		if v.Winner {
			fmt.Printf("%s: wins\n", v.Route.Name)
		} else {
			fmt.Printf("%s: %s\n", v.Route.Name, v.Why)
		}
		for _, line := range v.Then {
			fmt.Println("   ", line)
		}
	}
	// Output:
	// match: deny-admin
	// deny-admin: wins
	//     path "/x/../%61dmin/" is read as "/admin/"
	//     respond 403 Forbidden with no body
	// site: matches, but route "deny-admin" comes first
	// api: host "www.example.com" is not api.example.com
}
