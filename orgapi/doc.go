// Package orgapi serves AWS Organizations (the organization, its accounts and account creation)
// on Coffer's AWS endpoint, in the JSON 1.1 protocol, with AWS's shapes, checks and errors.
package orgapi
