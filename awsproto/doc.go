// Package awsproto owns the wire side of the AWS APIs Coffer serves on its one listener:
// classifying requests (JSON 1.1 for ECR and Organizations, query/XML for IAM and STS), decoding
// inputs, encoding outputs and errors, and the per-request context (request id, source IP, TLS).
package awsproto
