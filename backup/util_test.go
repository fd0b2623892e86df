package backup_test

import "errors"

func asErr(err error, target any) bool { return err != nil && errors.As(err, target) }
