package iamapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/skip2/go-qrcode"

	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
)

type optionalUserPageIn struct {
	UserName *string
	Paging
}

type accessKeyIn struct {
	UserName    *string
	AccessKeyId string `aws:"AccessKeyId,required"`
}

type updateAccessKeyIn struct {
	UserName    *string
	AccessKeyId string `aws:"AccessKeyId,required"`
	Status      string `aws:"Status,required"`
}

type accessKeyIDIn struct {
	AccessKeyId string `aws:"AccessKeyId,required"`
}

func (a *api) registerAccessKeys(e *awsproto.Endpoint) {
	op(e, "CreateAccessKey", func(ctx context.Context, in *optionalUserIn) (*sdk.CreateAccessKeyOutput, error) {
		account, user, err := a.startOnUser(ctx, "CreateAccessKey", in.UserName)
		if err != nil {
			return nil, err
		}
		k, err := a.Store.CreateAccessKey(ctx, account, user)
		if err != nil {
			return nil, err
		}
		out := &iamtypes.AccessKey{AccessKeyId: aws.String(k.ID), SecretAccessKey: aws.String(k.Secret),
			Status: iamtypes.StatusType(k.Status), CreateDate: timePtr(k.CreatedAt)}
		if k.UserName != "" {
			out.UserName = aws.String(k.UserName)
		}
		return &sdk.CreateAccessKeyOutput{AccessKey: out}, nil
	})

	op(e, "ListAccessKeys", func(ctx context.Context, in *optionalUserPageIn) (*sdk.ListAccessKeysOutput, error) {
		account, user, err := a.startOnUser(ctx, "ListAccessKeys", in.UserName)
		if err != nil {
			return nil, err
		}
		keys, err := a.Store.ListAccessKeys(ctx, account, user)
		if err != nil {
			return nil, err
		}
		list, truncated, marker, err := wirePage(keys, in.Paging, wireAccessKey)
		if err != nil {
			return nil, err
		}
		return &sdk.ListAccessKeysOutput{AccessKeyMetadata: list,
			IsTruncated: truncated, Marker: marker}, nil
	})

	op(e, "UpdateAccessKey", func(ctx context.Context, in *updateAccessKeyIn) (*awsproto.NoOutput, error) {
		p, account, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		user, target, err := a.implicitUser(ctx, p, account, in.UserName)
		if err != nil {
			return nil, err
		}
		var v iam.Validation
		v.Enum("status", in.Status, iam.StatusActive, iam.StatusInactive)
		if err := v.Err(); err != nil {
			return nil, err
		}
		if err := a.authorizeOn(ctx, "UpdateAccessKey", target); err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.UpdateAccessKey(ctx, account, user, in.AccessKeyId, in.Status)
	})

	op(e, "DeleteAccessKey", func(ctx context.Context, in *accessKeyIn) (*awsproto.NoOutput, error) {
		account, user, err := a.startOnUser(ctx, "DeleteAccessKey", in.UserName)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.DeleteAccessKey(ctx, account, user, in.AccessKeyId)
	})

	op(e, "GetAccessKeyLastUsed", func(ctx context.Context, in *accessKeyIDIn) (*sdk.GetAccessKeyLastUsedOutput, error) {
		_, account, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		owner, user, use, lookupErr := a.Store.AccessKeyLastUsed(ctx, in.AccessKeyId)
		target := resource{arn: "*"}
		switch {
		case lookupErr != nil:
		case owner != account:
			// Keys of other accounts are not this caller's to inspect; answer as for an unknown key.
			lookupErr = iam.ErrNoSuchAccessKey(in.AccessKeyId)
		case user == "":
			target.arn = iam.RootARN(account)
		default:
			target = a.entity(ctx, account, iam.KindUser, user)
		}
		if err := a.authorizeOn(ctx, "GetAccessKeyLastUsed", target); err != nil {
			return nil, err
		}
		if lookupErr != nil {
			return nil, lookupErr
		}
		last := &iamtypes.AccessKeyLastUsed{ServiceName: aws.String("N/A"), Region: aws.String("N/A")}
		if !use.At.IsZero() {
			last = &iamtypes.AccessKeyLastUsed{LastUsedDate: timePtr(use.At), ServiceName: aws.String(use.Service),
				Region: aws.String(use.Region)}
		}
		out := &sdk.GetAccessKeyLastUsedOutput{AccessKeyLastUsed: last}
		if user != "" {
			out.UserName = aws.String(user)
		}
		return out, nil
	})
}

type createVirtualMFAIn struct {
	VirtualMFADeviceName string `aws:"VirtualMFADeviceName,required"`
	Path                 *string
	Tags                 []tagIn
}

type enableMFAIn struct {
	UserName            string `aws:"UserName,required"`
	SerialNumber        string `aws:"SerialNumber,required"`
	AuthenticationCode1 string `aws:"AuthenticationCode1,required"`
	AuthenticationCode2 string `aws:"AuthenticationCode2,required"`
}

type deactivateMFAIn struct {
	UserName     *string
	SerialNumber string `aws:"SerialNumber,required"`
}

type serialIn struct {
	SerialNumber string `aws:"SerialNumber,required"`
}

type listVirtualMFAIn struct {
	AssignmentStatus *string
	Paging
}

func (a *api) registerMFA(e *awsproto.Endpoint) {
	op(e, "CreateVirtualMFADevice", func(ctx context.Context, in *createVirtualMFAIn) (*sdk.CreateVirtualMFADeviceOutput, error) {
		_, account, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		tags := domainTags(in.Tags)
		arn := iam.MFAARN(account, iam.DefaultPath(str(in.Path)), in.VirtualMFADeviceName)
		if err := a.authorize(ctx, "CreateVirtualMFADevice", arn, requestTagKeys(tags)...); err != nil {
			return nil, err
		}
		d, err := a.Store.CreateVirtualMFADevice(ctx, account, in.VirtualMFADeviceName, iam.DefaultPath(str(in.Path)), tags)
		if err != nil {
			return nil, err
		}
		// The QR code an authenticator app scans: the otpauth:// URI of the seed, as a PNG.
		png, err := qrcode.Encode(d.OTPAuthURI, qrcode.Medium, 256)
		if err != nil {
			return nil, err
		}
		return &sdk.CreateVirtualMFADeviceOutput{VirtualMFADevice: &iamtypes.VirtualMFADevice{
			SerialNumber: aws.String(d.SerialNumber), Base32StringSeed: []byte(d.Base32Seed), QRCodePNG: png,
			Tags: optionalTags(d.Tags)}}, nil
	})

	op(e, "EnableMFADevice", func(ctx context.Context, in *enableMFAIn) (*awsproto.NoOutput, error) {
		account, err := a.startOnEntity(ctx, "EnableMFADevice", iam.KindUser, in.UserName)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.EnableMFADevice(ctx, account, in.UserName, in.SerialNumber,
			in.AuthenticationCode1, in.AuthenticationCode2)
	})

	op(e, "DeactivateMFADevice", func(ctx context.Context, in *deactivateMFAIn) (*awsproto.NoOutput, error) {
		account, user, err := a.startOnUser(ctx, "DeactivateMFADevice", in.UserName)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.DeactivateMFADevice(ctx, account, user, in.SerialNumber)
	})

	op(e, "DeleteVirtualMFADevice", func(ctx context.Context, in *serialIn) (*awsproto.NoOutput, error) {
		_, account, err := a.start(ctx, "DeleteVirtualMFADevice", in.SerialNumber)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.DeleteVirtualMFADevice(ctx, account, in.SerialNumber)
	})

	op(e, "ListMFADevices", func(ctx context.Context, in *optionalUserPageIn) (*sdk.ListMFADevicesOutput, error) {
		account, user, err := a.startOnUser(ctx, "ListMFADevices", in.UserName)
		if err != nil {
			return nil, err
		}
		devices, err := a.Store.ListMFADevices(ctx, account, user)
		if err != nil {
			return nil, err
		}
		page, truncated, marker, err := pageOf(devices, in.Paging)
		if err != nil {
			return nil, err
		}
		out := &sdk.ListMFADevicesOutput{MFADevices: make([]iamtypes.MFADevice, len(page)), IsTruncated: truncated, Marker: marker}
		for i, d := range page {
			out.MFADevices[i] = iamtypes.MFADevice{SerialNumber: aws.String(d.SerialNumber), EnableDate: timePtr(d.EnabledAt)}
			if d.UserName != "" {
				out.MFADevices[i].UserName = aws.String(d.UserName)
			}
		}
		return out, nil
	})

	op(e, "ListVirtualMFADevices", func(ctx context.Context, in *listVirtualMFAIn) (*sdk.ListVirtualMFADevicesOutput, error) {
		_, account, err := a.start(ctx, "ListVirtualMFADevices", "*")
		if err != nil {
			return nil, err
		}
		assignment := iamsql.AssignmentAny
		if in.AssignmentStatus != nil {
			var v iam.Validation
			v.Enum("assignmentStatus", *in.AssignmentStatus, iamsql.AssignmentAssigned, iamsql.AssignmentUnassigned, iamsql.AssignmentAny)
			if err := v.Err(); err != nil {
				return nil, err
			}
			assignment = *in.AssignmentStatus
		}
		devices, err := a.Store.ListVirtualMFADevices(ctx, account, assignment)
		if err != nil {
			return nil, err
		}
		page, truncated, marker, err := pageOf(devices, in.Paging)
		if err != nil {
			return nil, err
		}
		out := &sdk.ListVirtualMFADevicesOutput{VirtualMFADevices: make([]iamtypes.VirtualMFADevice, len(page)),
			IsTruncated: truncated, Marker: marker}
		for i, d := range page {
			vd := iamtypes.VirtualMFADevice{SerialNumber: aws.String(d.SerialNumber), EnableDate: timePtr(d.EnabledAt),
				Tags: optionalTags(d.Tags)}
			if d.UserName != "" {
				if u, err := a.Store.GetUser(ctx, account, d.UserName); err == nil {
					user := wireUser(u, false)
					vd.User = &user
				}
			}
			out.VirtualMFADevices[i] = vd
		}
		return out, nil
	})
}
