package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ncnpush/ncnpush/k8sheal"
	"github.com/ncnpush/ncnpush/output"
)

func restoreReport() *output.Report {
	return &output.Report{Action: "etcd-restore", Status: output.StatusOK, Hosts: []string{"ncn-m001"},
		Phases: []output.PhaseResult{{Index: 1, Title: "Verify the restored cluster", Status: output.StatusOK}}}
}

// A heal that failed after a good restore: the restore's document keeps
// status ok, k8s_heal says failed, and the exit code is 3, not 1.
func TestFinishRestoreHealFailed(t *testing.T) {
	var stdout bytes.Buffer
	s := &session{redactor: output.NewRedactor(), json: true, stdout: &stdout}
	rep := restoreReport()
	appendHeal(rep, &output.Report{Duration: 2, Phases: []output.PhaseResult{
		{Index: 1, Title: "Read every CronJob", Status: output.StatusFailed, Error: "no API server"},
		{Index: 2, Title: "Show", Status: output.StatusSkipped}}})
	healErr := fmt.Errorf("the etcd restore succeeded, but the Kubernetes heal after it failed: %w: ncn-m001: refused\n  (more)", k8sheal.ErrNoAPIServer)
	err := s.finishRestore(rep, newHealPart(k8sheal.Result{}, false, healErr, s.redactor), healErr)
	var ec ExitCoder
	if !errors.As(err, &ec) || ec.ExitCode() != exitHealFailed || !errors.Is(err, k8sheal.ErrNoAPIServer) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v (%T)", err, err)
	}
	var doc struct {
		Action  string `json:"action"`
		Status  string `json:"status"`
		Phases  []output.PhaseResult
		K8sHeal struct {
			Status      string            `json:"status"`
			Error       string            `json:"error"`
			Replaced    []json.RawMessage `json:"replaced"`
			DeletedPods []json.RawMessage `json:"deleted_pods"`
			Failed      []json.RawMessage `json:"failed"`
		} `json:"k8s_heal"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if doc.Action != "etcd-restore" || doc.Status != "ok" || doc.K8sHeal.Status != "failed" ||
		!strings.Contains(doc.K8sHeal.Error, "no Kubernetes API server is reachable") ||
		doc.K8sHeal.Replaced == nil || doc.K8sHeal.DeletedPods == nil || doc.K8sHeal.Failed == nil {
		t.Errorf("document %s", stdout.String())
	}
	if len(doc.Phases) != 3 || doc.Phases[1].Index != 2 || doc.Phases[1].Title != "Kubernetes: Read every CronJob" {
		t.Errorf("phases %+v", doc.Phases)
	}
}

func TestFinishRestoreHealOK(t *testing.T) {
	var stdout bytes.Buffer
	s := &session{redactor: output.NewRedactor(), json: true, stdout: &stdout}
	res := k8sheal.Result{Host: "ncn-m001", Replaced: []k8sheal.Replaced{{Namespace: "services", Name: "sonar-sync", OldUID: "a", NewUID: "b"}}}
	if err := s.finishRestore(restoreReport(), newHealPart(res, false, nil, s.redactor), nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"status": "ok"`, `"k8s_heal": {`, `"new_uid": "b"`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("no %s in %s", want, stdout.String())
		}
	}
}
