// Package baseline holds configuration baselines (CF-1) and allowed
// software lists (CF-4): a YAML document of checks for a host group,
// parsed with the file, line and key of every error, and evaluated
// against a System, a small interface over the host (files, sysctls,
// units, sockets, the firewall ruleset, packages) that tests build in a
// temporary root.
//
// A document:
//
//	name: debian-server
//	checks:
//	  - id: ssh-no-root
//	    kind: setting
//	    path: /etc/ssh/sshd_config
//	    key: PermitRootLogin
//	    value: "no"
//	software:
//	  - openssh-server >= 1:9.2
//	  - lib*
package baseline
