// Package ecrapi serves Amazon ECR's control-plane API (AWS JSON 1.1) on Coffer's AWS endpoint:
// repositories, images, layer uploads, policies and tokens, each call authorized as its ECR action.
package ecrapi
