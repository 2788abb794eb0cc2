// Package awsproto is the wire layer of the AWS APIs Coffer serves on its one listener: it
// classifies requests, decodes inputs and encodes outputs, errors and request contexts.
package awsproto
