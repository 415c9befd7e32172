/*
 * wmclose sends WM_DELETE_WINDOW to a window, as a window manager's close
 * button does: the app's close handling runs, unlike xdotool's windowclose,
 * which destroys the window under it. Used by scripts/bench-idle.sh and the
 * desktop app's end-to-end tests (proxy/e2e).
 *
 *   gcc -O -o wmclose wmclose.c -lX11 && DISPLAY=:1 ./wmclose 0x200001
 */
#include <X11/Xlib.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	if (argc != 2) { fprintf(stderr, "usage: wmclose WINDOW-ID\n"); return 2; }
	Display *d = XOpenDisplay(NULL);
	if (!d) { fprintf(stderr, "wmclose: cannot open display\n"); return 1; }
	Window w = (Window)strtoul(argv[1], NULL, 0);
	XEvent e = {0};
	e.xclient.type = ClientMessage;
	e.xclient.window = w;
	e.xclient.message_type = XInternAtom(d, "WM_PROTOCOLS", False);
	e.xclient.format = 32;
	e.xclient.data.l[0] = XInternAtom(d, "WM_DELETE_WINDOW", False);
	e.xclient.data.l[1] = CurrentTime;
	XSendEvent(d, w, False, NoEventMask, &e);
	XCloseDisplay(d);
	return 0;
}
