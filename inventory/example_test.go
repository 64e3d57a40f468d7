package inventory_test

import (
	"fmt"

	"github.com/ncnpush/ncnpush/inventory"
)

func ExampleInventory_Select() {
	inv, err := inventory.Parse("hosts.ini", []byte(`
[all:vars]
ansible_user=root

[masters]
ncn-m00[1:3]

[workers]
ncn-w00[1:2] ansible_user=admin
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, pattern := range []string{"masters:!ncn-m002", "ncn-w*", "all[-1]", "storage"} {
		hosts, err := inv.Select(pattern)
		if err != nil {
			fmt.Println(err)
			continue
		}
		for _, h := range hosts {
			fmt.Printf("%s: %s@%s %v\n", pattern, h.User, h.Name, h.Groups)
		}
	}
	// Output:
	// masters:!ncn-m002: root@ncn-m001 [all masters]
	// masters:!ncn-m002: root@ncn-m003 [all masters]
	// ncn-w*: admin@ncn-w001 [all workers]
	// ncn-w*: admin@ncn-w002 [all workers]
	// all[-1]: admin@ncn-w002 [all workers]
	// no host matches "storage" in hosts.ini: "storage" matches no group or host name
}

func ExampleParse_error() {
	_, err := inventory.Parse("inventory.yaml", []byte(`
hosts:
  ncn-m001: {address: 10.77.0.11}
  ncn-m002: {adress: 10.77.0.12}
`))
	fmt.Println(err)
	// Output:
	// inventory.yaml:4: unknown key "adress" in host ncn-m002 (did you mean "address"?)
}
