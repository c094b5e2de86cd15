// lat: how late a light thread runs beside another on its CPU (docs/model.md). Thread H,
// pinned to CPU 1, spins S us and sleeps Z us in a loop (S 0: none); thread L, pinned to
// CPU 1 too, wakes every LP us (clock_nanosleep) and runs LW us, recording its lateness.
// Build and run: gcc -O2 -o lat lat.c -lpthread && ./lat S Z LP LW N
// e.g. ./lat 500 170 1000 20 2000; ./lat 0 0 1000 20 3000 (alone: timer slack + vCPU wake).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
static long S, Z, LP, LW, N;
static inline long now_ns(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1000000000L+t.tv_nsec;}
static void spin_until(long t){while(now_ns()<t);}
static void pin(int c){cpu_set_t s;CPU_ZERO(&s);CPU_SET(c,&s);sched_setaffinity(0,sizeof s,&s);}
static volatile int stop;
static void *h(void*x){pin(1);while(!stop){spin_until(now_ns()+S*1000); if(Z){struct timespec ts={0,Z*1000};nanosleep(&ts,0);}}return 0;}
int cmp(const void*a,const void*b){long x=*(long*)a,y=*(long*)b;return x<y?-1:x>y;}
int main(int c,char**v){S=atol(v[1]);Z=atol(v[2]);LP=atol(v[3]);LW=atol(v[4]);N=atol(v[5]);
 pthread_t t; if(S) pthread_create(&t,0,h,0); pin(1); usleep(50000);
 long *lat=malloc(N*sizeof(long)); struct timespec ts; clock_gettime(CLOCK_MONOTONIC,&ts); long next=ts.tv_sec*1000000000L+ts.tv_nsec;
 for(long i=0;i<N;i++){next+=LP*1000; struct timespec d={next/1000000000L,next%1000000000L}; clock_nanosleep(CLOCK_MONOTONIC,TIMER_ABSTIME,&d,0); long n=now_ns(); lat[i]=n-next; spin_until(n+LW*1000);}
 stop=1; qsort(lat,N,sizeof(long),cmp);
 printf("H spin %ld sleep %ld; L every %ld runs %ld: lateness p50 %ld p90 %ld p99 %ld max %ld us\n",S,Z,LP,LW,lat[N/2]/1000,lat[N*9/10]/1000,lat[N*99/100]/1000,lat[N-1]/1000);
}
