package main

import (
	"os"
	"strings"
)

// chinese reports whether the user's locale asks for Chinese messages
// (LC_ALL, then LC_MESSAGES, then LANG, as POSIX orders them).
func chinese() bool {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if x := os.Getenv(v); x != "" {
			return strings.HasPrefix(strings.ToLower(x), "zh")
		}
	}
	return false
}

// msg returns the command line's message in the user's language: the
// English text is the key, and Simplified Chinese the one translation.
// Errors from deeper down (settings, registries) stay in English.
func msg(english string) string {
	if chinese() {
		if zh, ok := zhMessages[english]; ok {
			return zh
		}
	}
	return english
}

var zhMessages = map[string]string{
	usage: usageZH,
	"the hubmirror app is not running; start it with: hubmirror":            "hubmirror 应用没有在运行；请用此命令启动：hubmirror",
	"this build has no desktop app (built with -tags nogui)":                "此版本不含桌面应用（以 -tags nogui 构建）",
	"Login succeeded: %s's credentials for %s are in the OS keyring.\n":     "登录成功：%s 在 %s 的凭据已保存到系统钥匙串。\n",
	"No credentials for %s were stored.\n":                                  "没有保存 %s 的凭据。\n",
	"Removed the credentials for %s from the OS keyring.\n":                 "已从系统钥匙串移除 %s 的凭据。\n",
	"login failed: %s refused the username or password; nothing was stored": "登录失败：%s 拒绝了该用户名或密码；未保存任何内容",
	"login failed, nothing was stored: %w":                                  "登录失败，未保存任何内容：%w",
	"login needs -u USER and --password-stdin":                              "login 需要 -u 用户名 和 --password-stdin",
	"no password on standard input":                                         "标准输入中没有密码",
	"unknown command %q":                                                    "未知命令 %q",
	"hubmirror is already running: its window was brought to the front.":    "hubmirror 已在运行：已将其窗口显示到前面。",
	"hubmirror is already running, but its window could not be shown: %v":   "hubmirror 已在运行，但无法显示其窗口：%v",
}

const usageZH = `hubmirror：本机的 Docker Hub 拉取缓存镜像

用法：
  hubmirror [选项]           运行镜像服务（有显示器时为托盘应用）
  hubmirror serve [选项]     以无界面方式运行镜像服务
  hubmirror login [仓库] -u 用户名 --password-stdin
                             向仓库验证账号，通过后保存到系统钥匙串
  hubmirror logout [仓库]    从钥匙串中移除账号
  hubmirror setup docker|containerd|podman|k3s|kind|pull [--host 主机:端口]
                             输出让客户端使用本镜像的配置
  hubmirror cache ls|prune --to 大小|verify|clear
                             列出、缩减、校验或清空缓存（需先停止镜像服务）
  hubmirror version          显示版本

选项（两种运行方式通用）：
  --listen 主机:端口         监听地址（默认 127.0.0.1:5000）
  --cache-dir 目录           缓存目录
  --cache-max 大小           最多保留多少，例如 20GiB（默认：磁盘的五分之一）
  --config 文件              设置文件
  --upstream 仓库=URL        将某仓库的流量发往另一个地址（可重复）
  --alias 主机名=仓库        以此主机名访问本镜像的请求发往该仓库（可重复）
  --self-auth                作为令牌服务：客户端需 docker login 到本镜像
  --allow-user 用户名        配合 --self-auth，仅允许这些 Docker Hub 用户拉取（可重复）

运行 "hubmirror serve --help" 查看详情。
`
