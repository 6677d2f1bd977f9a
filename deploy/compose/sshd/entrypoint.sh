#!/bin/sh
# Waits for Ward's upstream CA (made by `ward keys init` in the keys volume), then serves.
set -eu
until [ -s /ward-keys/ssh_upstream_ca.pub ]; do sleep 1; done
cp /ward-keys/ssh_upstream_ca.pub /etc/ssh/ward_upstream_ca.pub
ssh-keygen -A >/dev/null
exec /usr/sbin/sshd -D -e
